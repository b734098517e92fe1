import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket client on a bare TCP socket, for attacks a well-behaved client library cannot
/// make: it writes frames and reads **only when told to**, so a test can stop reading and let the
/// server's writes back up in TCP (a tiny receive buffer makes that happen after a few KiB).
final class RawWebSocketClient {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`, with a receive buffer of `receiveBuffer` bytes, and upgrades to `/ws`.
    init(port: Int, receiveBuffer: Int32 = 4_096) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EBADF) }
        var size = receiveBuffer
        // Before connect, so that the window the server sees stays small.
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED)
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request =
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try writeAll(Array(request.utf8))
        // The 101 answer: read byte by byte up to the blank line, so no frame byte is consumed.
        var head: [UInt8] = []
        while !head.ends(with: [13, 10, 13, 10]) {
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { throw POSIXError(.ECONNRESET) }
            head.append(byte)
            guard head.count < 4_096 else { throw POSIXError(.EMSGSIZE) }
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else { throw POSIXError(.EPROTO) }
    }

    deinit { close(fd) }

    private func writeAll(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPIPE) }
            sent += n
        }
    }

    /// Sends one masked text frame (RFC 6455 §5.2: a client masks every frame).
    func send(_ object: [String: Any]) throws {
        try sendText(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    func sendText(_ text: String) throws {
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
        try writeAll(frame)
    }

    /// Reads (and throws away) what the server sent until it closes the connection, for at most
    /// `seconds`; returns the bytes read, or nil if the connection was still open at the deadline.
    func readUntilClosed(seconds: Double) -> Int? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while ContinuousClock.now < deadline {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                total += n
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return total  // EOF or reset: the server closed it
            }
        }
        return nil
    }

    /// Reads the frames the server sent so far (at most `seconds`), as JSON objects, until one of
    /// type `type` arrives.
    func readUntil(_ type: String, seconds: Double) -> [[String: Any]] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var pending: [UInt8] = []
        var out: [[String: Any]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while ContinuousClock.now < deadline {
            let n = read(fd, &buffer, buffer.count)
            if n == 0 { break }
            if n > 0 { pending += buffer[0..<n] }
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
