public enum MediaPipelinePlaceholder {}
