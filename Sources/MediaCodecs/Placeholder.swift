public enum MediaCodecsPlaceholder {}
