import Foundation
import MediaCrypto
import MediaWire

/// What a node asks of the node holding a room's publication, to show it to viewers of its own
/// (`POST /cluster/pipes`, docs/cluster.md "Media between nodes"): pipe `source` (the room's
/// latest publication when nil) of `room` to this node's media socket at `host`:`port`, under
/// the key of `token` (``NodePipeCipher``).
public struct NodePipeRequest: Codable, Sendable, Equatable {
    public var room: String
    public var source: String?
    /// 64 random bits, decimal (JSON numbers lose precision past 2^53).
    public var token: String
    /// The asking node's media address (an IP literal) and the port of its worker that mirrors.
    public var host: String
    public var port: Int

    public init(room: String, source: String?, token: UInt64, host: String, port: Int) {
        self.room = room
        self.source = source
        self.token = String(token)
        self.host = host
        self.port = port
    }
}

/// The origin node's answer to a ``NodePipeRequest``: the publication it now pipes (what the
/// asking node's mirror needs, as ``PublicationDescription`` within a process) and where its
/// datagrams come from, so that key-frame requests, NACKs and keep-alives go back there.
public struct NodePipeOffer: Codable, Sendable, Equatable {
    public var id: String
    public var room: String
    public var kinds: [MediaKind]
    public var audioCaptureTimeExtensionID: UInt8?
    public var videoCaptureTimeExtensionID: UInt8?
    public var exclusive: Bool
    public var rids: [String]
    public var ridExtensionID: UInt8?
    /// The origin worker's media address and port.
    public var host: String
    public var port: Int
    /// 16 random bytes, hex, that the origin drew for this pipe: with the token, what keys it
    /// (``NodePipeCipher``).
    public var salt: String

    init(_ d: PublicationDescription, host: String, port: Int, salt: [UInt8]) {
        id = d.id
        room = d.room
        kinds = d.kinds
        audioCaptureTimeExtensionID = d.captureTimeExtensionIDs.audio
        videoCaptureTimeExtensionID = d.captureTimeExtensionIDs.video
        exclusive = d.exclusive
        rids = d.rids
        ridExtensionID = d.ridExtensionID
        self.host = host
        self.port = port
        self.salt = salt.map { String(format: "%02x", $0) }.joined()
    }

    /// The salt's bytes; nil unless it is 32 hex digits.
    var saltBytes: [UInt8]? {
        let digits = Array(salt.utf8)
        guard digits.count == 2 * NodePipeCipher.saltLength else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    var description: PublicationDescription {
        PublicationDescription(
            id: id, room: room, kinds: kinds,
            captureTimeExtensionIDs: PerKind(audio: audioCaptureTimeExtensionID, video: videoCaptureTimeExtensionID), exclusive: exclusive,
            rids: rids, ridExtensionID: ridExtensionID)
    }
}

/// How a node reaches the node holding a room's publication: `attach` sends a
/// ``NodePipeRequest`` with the given token and this node's mirroring port, and returns the
/// origin's ``NodePipeOffer`` (the HTTP call is the server's, not the relay's). `secret` is the
/// cluster's shared secret, which keys the pipe (``NodePipeCipher``).
public struct NodeOrigin: Sendable {
    public let secret: [UInt8]
    public let attach: @Sendable (_ token: UInt64, _ port: Int) async throws -> NodePipeOffer

    public init(secret: [UInt8], attach: @escaping @Sendable (_ token: UInt64, _ port: Int) async throws -> NodePipeOffer) {
        self.secret = secret
        self.attach = attach
    }
}
