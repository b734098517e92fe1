import ShowroomCore

/// Why a codec call failed; compared by code.
public struct CodecError: CodedError {
    public static let domain = "codec"
    public enum Code: String, Sendable, Hashable {
        /// A parameter outside what the codec accepts (size, rate, channels).
        case invalidArgument
        /// The encoder or decoder could not be created.
        case initializationFailed
        /// Encoding failed.
        case encodeFailed
        /// The input is not a decodable packet or frame.
        case corruptInput
        /// A key frame declares a picture larger than the decoder takes
        /// (``VP8Decoder/maximumWidth``, ``VP8Decoder/maximumHeight``, ``VP8Decoder/maximumPixels``).
        case oversizeFrame
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

}
