import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket client on a bare TCP socket (`RawTCPConnection`), for attacks a well-behaved
/// client library cannot make: it writes frames and reads **only when told to**, so a test can stop
/// reading and let the server's writes back up in TCP (a tiny receive buffer makes that happen
/// after a few KiB).
final class RawWebSocketClient {
    let connection: RawTCPConnection

    /// Connects to 127.0.0.1:`port`, with a receive buffer of `receiveBuffer` bytes, and upgrades to `/ws`.
    init(port: Int, receiveBuffer: Int32 = 4_096) async throws {
        connection = try RawTCPConnection(port: port, receiveBuffer: receiveBuffer)
        let request =
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try await connection.write(Array(request.utf8))
        // The 101 answer: read byte by byte up to the blank line, so no frame byte is consumed.
        let deadline = ContinuousClock.now + .seconds(5)
        var head: [UInt8] = []
        while !head.ends(with: [13, 10, 13, 10]) {
            guard case .bytes(let byte) = await connection.read(upTo: 1, until: deadline) else { throw POSIXError(.ECONNRESET) }
            head += byte
            guard head.count < 4_096 else { throw POSIXError(.EMSGSIZE) }
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else { throw POSIXError(.EPROTO) }
    }

    /// Sends one masked text frame (RFC 6455 §5.2: a client masks every frame).
    func send(_ object: [String: Any]) async throws {
        try await sendText(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    func sendText(_ text: String) async throws {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65_536 {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        let mask: [UInt8] = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try await connection.write(frame)
    }

    /// Reads (and throws away) what the server sent until it closes the connection, for at most
    /// `seconds`; returns the bytes read, or nil if the connection was still open at the deadline.
    func readUntilClosed(seconds: Double) async -> Int? {
        await connection.readUntilClosed(within: .seconds(seconds))
    }

    /// Reads the frames the server sent so far (at most `seconds`), as JSON objects, until one of
    /// type `type` arrives.
    func readUntil(_ type: String, seconds: Double) async -> [[String: Any]] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var pending: [UInt8] = []
        var out: [[String: Any]] = []
        while case .bytes(let bytes) = await connection.read(upTo: 65_536, until: deadline) {
            pending += bytes
            while let (opcode, payload, used) = Self.frame(in: pending) {
                pending.removeFirst(used)
                if opcode == 1, let o = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] {
                    out.append(o)
                    if o["type"] as? String == type { return out }
                }
            }
        }
        return out
    }

    /// One unmasked server frame at the start of `bytes`: opcode, payload, bytes used.
    static func frame(in bytes: [UInt8]) -> (UInt8, [UInt8], Int)? {
        guard bytes.count >= 2 else { return nil }
        var length = Int(bytes[1] & 0x7F), offset = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            offset = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = (2..<10).reduce(0) { $0 << 8 | Int(bytes[$1]) }
            offset = 10
        }
        guard bytes.count >= offset + length else { return nil }
        return (bytes[0] & 0x0F, Array(bytes[offset..<(offset + length)]), offset + length)
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
