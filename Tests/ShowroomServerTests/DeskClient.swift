import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The desk's HTTP API as a test drives it: JSON requests with a Bearer token, and an agent's
/// workspace stream (server-sent events) read from a plain socket on a thread of its own.
struct DeskClient {
    let port: Int

    struct Reply {
        var status: Int
        var data: Data
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:] }
        var array: [[String: Any]] { ((try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]) ?? [] }
        var text: String { String(decoding: data, as: UTF8.self) }
    }

    func request(_ method: String, _ path: String, token: String?, body: Any? = nil, raw: Data? = nil) async throws -> Reply {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        r.httpMethod = method
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            r.httpBody = try JSONSerialization.data(withJSONObject: body)
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let raw {
            r.httpBody = raw
        }
        let (data, response) = try await URLSession.shared.data(for: r)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, data: data)
    }
}

/// An agent's `GET /api/desk/events`, read on a thread: the status line, then every `data:` line
/// decoded. Nothing here blocks a task: the server under test runs in this process, on the same
/// two cooperative threads, and a blocking read there could wait for a response that needs them.
final class DeskEventStream: @unchecked Sendable {
    private let fd: Int32
    /// What arrived, and how far ``next(_:seconds:)`` has read (under `lock`).
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var statusLine: String?
        var items: [[String: Any]] = []
        var cursor = 0
    }
    private let box = Box()
    private let thread: Thread

    init(port: Int, token: String) throws {
        let fd = try RawTCPConnection.connectedSocket(port: port)
        self.fd = fd
        let request = "GET /api/desk/events HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(token)\r\n\r\n"
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let box = self.box
        thread = Thread {
            // The head, byte by byte up to the blank line.
            var head: [UInt8] = []
            var byte: UInt8 = 0
            while !head.suffix(4).elementsEqual([13, 10, 13, 10]), read(fd, &byte, 1) == 1 { head.append(byte) }
            let status = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
            box.lock.withLock { box.statusLine = status }
            guard status.contains(" 200 ") else { return }
            var pending = ""
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                pending += String(decoding: buffer[0..<n], as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    guard line.hasPrefix("data: "),
                        let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
                    else { continue }
                    box.lock.withLock { box.items.append(object) }
                }
            }
        }
        thread.start()
    }

    /// The response's status line ("HTTP/1.1 200 OK"), once it arrived (within `seconds`).
    func statusLine(seconds: Double = 10) async -> String {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let s = box.lock.withLock({ box.statusLine }) { return s }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return ""
    }

    /// The next notice of `type` after the ones already taken (skipping others), within `seconds`.
    func next(_ type: String, seconds: Double = 10) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let found: [String: Any]? = box.lock.withLock {
                while box.cursor < box.items.count {
                    let n = box.items[box.cursor]
                    box.cursor += 1
                    if n["type"] as? String == type { return n }
                }
                return nil
            }
            if let found { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TimeoutError(waitingFor: type, received: box.lock.withLock { box.items.compactMap { $0["type"] as? String } })
    }

    struct TimeoutError: Error, CustomStringConvertible {
        var waitingFor: String
        var received: [String]
        var description: String { "no \(waitingFor) notice; received \(received)" }
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)); Glibc.close(fd) }
}
