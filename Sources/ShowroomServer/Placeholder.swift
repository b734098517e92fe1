public enum ShowroomServerPlaceholder {}
