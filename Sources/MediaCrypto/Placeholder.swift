public enum MediaCryptoPlaceholder {}
