import Foundation

/// Base64url without padding (RFC 4648 §5): what tracking tokens are written in, safe in a URL's
/// query and path.
enum Base64URL {
    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var s = Data(bytes).base64EncodedString()
        s = s.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while s.hasSuffix("=") { s.removeLast() }
        return s
    }

    /// `nil` for anything but base64url characters, or an impossible length.
    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x5F }),
            text.utf8.count % 4 != 1
        else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.utf8.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}
