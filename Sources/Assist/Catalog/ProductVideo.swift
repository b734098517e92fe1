/// A short product clip an agent can send in the chat: the clip, its poster frame and its size,
/// so the shopper's player can reserve the space before it loads.
public struct ProductVideo: Codable, Hashable, Sendable {
    /// Longer clips belong on the product page, not in a chat.
    public static let durationRange = 1...120
    public static let dimensionRange = 16...4096

    /// The clip (absolute http(s) URL, e.g. an MP4 or an HLS playlist).
    public var url: String
    /// A still shown before it plays (absolute http(s) URL).
    public var poster: String?
    public var durationSeconds: Int
    public var width: Int?
    public var height: Int?

    public init(url: String, poster: String? = nil, durationSeconds: Int, width: Int? = nil, height: Int? = nil) {
        self.url = url
        self.poster = poster
        self.durationSeconds = durationSeconds
        self.width = width
        self.height = height
    }

    /// - Throws: ``AssistError`` `invalid_argument` naming the field.
    public func validate() throws(AssistError) {
        guard Product.isHTTPURL(url) else { throw AssistError(.invalidArgument, "url: an absolute http(s) URL") }
        if let poster, !Product.isHTTPURL(poster) { throw AssistError(.invalidArgument, "poster: an absolute http(s) URL") }
        guard Self.durationRange.contains(durationSeconds) else {
            throw AssistError(.invalidArgument, "durationSeconds: \(Self.durationRange.lowerBound)–\(Self.durationRange.upperBound)")
        }
        for (name, value) in [("width", width), ("height", height)] {
            if let value, !Self.dimensionRange.contains(value) {
                throw AssistError(.invalidArgument, "\(name): \(Self.dimensionRange.lowerBound)–\(Self.dimensionRange.upperBound) pixels")
            }
        }
    }
}
