import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to 127.0.0.1 on a bare socket, for attacks a client library cannot make
/// (half a request, a client that stops reading).
///
/// The socket is non-blocking and every wait is a `Task.sleep`: a blocking `read` here held one of
/// the Swift pool's two threads (CI's cores) for the seconds a server takes to time a client out,
/// and two such waits at once starved every server under test in the process — their clients'
/// `hello`s went unread for 10 s.
final class RawTCPConnection {
    /// What one read found.
    enum Read: Equatable {
        case bytes([UInt8])
        /// End of stream or a reset: the server closed the connection.
        case closed
        /// Nothing arrived before the deadline.
        case timedOut
    }

    let fd: Int32

    /// Connects to 127.0.0.1:`port` (loopback answers or refuses at once), with a receive buffer
    /// of `receiveBuffer` bytes when given (set before connecting, so that the window the server
    /// sees stays small).
    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = try Self.connectedSocket(port: port, receiveBuffer: receiveBuffer)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// A blocking TCP socket connected to 127.0.0.1:`port`, its receive buffer set first when
    /// given.
    static func connectedSocket(port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EBADF) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED)
            close(fd)
            throw error
        }
        return fd
    }

    deinit { close(fd) }

    /// Writes all of `bytes`, waiting while the socket's send buffer is full, at most `limit`.
    func write(_ bytes: [UInt8], within limit: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + limit
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw POSIXError(n < 0 ? POSIXErrorCode(rawValue: errno) ?? .EPIPE : .ETIMEDOUT)
            }
        }
    }

    /// At most `maximum` bytes, whatever has arrived, waiting until `deadline` for some.
    func read(upTo maximum: Int, until deadline: ContinuousClock.Instant) async -> Read {
        var buffer = [UInt8](repeating: 0, count: maximum)
        while true {
            let n = Glibc.read(fd, &buffer, maximum)
            if n > 0 { return .bytes(Array(buffer[0..<n])) }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { return .closed }
            if ContinuousClock.now >= deadline { return .timedOut }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Reads (and throws away) what the server sends until it closes the connection, at most
    /// `limit`; the bytes read, or nil if the connection was still open at the deadline.
    func readUntilClosed(within limit: Duration) async -> Int? {
        let deadline = ContinuousClock.now + limit
        var total = 0
        while true {
            switch await read(upTo: 65_536, until: deadline) {
            case .bytes(let bytes): total += bytes.count
            case .closed: return total
            case .timedOut: return nil
            }
        }
    }
}
