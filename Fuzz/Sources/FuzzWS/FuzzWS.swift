import FuzzSupport
import Chat
import Foundation
import Signaling

/// `/ws` text frames (docs/protocol.md): `ClientMessage.parse` on any text; a `send` carries chat
/// content of any kind, which is validated as the session does, and content that passes goes
/// through the store's encoding (`json()` → `ChatContent(json:)`) and must come back
/// the same.
/// `FUZZ_PROFILE=1 tools/fuzz repro ws FILE` prints how long each step takes (slow inputs).
let profile = ProcessInfo.processInfo.environment["FUZZ_PROFILE"] != nil

func step<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    guard profile else { return try body() }
    let start = ContinuousClock.now
    defer { FileHandle.standardError.write(Data("profile ws: \(name): \(ContinuousClock.now - start)\n".utf8)) }
    return try body()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWS(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let (message, _) = step("ClientMessage.parse", { try? ClientMessage.parse(text) }) else { return 0 }
    guard case .send(_, let content) = message else { return 0 }
    _ = content.kind
    guard step("ChatContent.validate", { (try? content.validate()) != nil }) else { return 0 }
    let stored: Data
    do { stored = Data(try content.json().utf8) } catch {
        fatalError("valid content does not encode for the store: \(error)")
    }
    let read: ChatContent
    do { read = try ChatContent(json: stored) } catch {
        fatalError("valid content does not read back from the store: \(error) — \(String(decoding: stored, as: UTF8.self))")
    }
    precondition(read == content, "store round trip changed the content: \(content) → \(read)")
    return 0
}

@_cdecl("FuzzWS_main")
public func fuzzWSMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzWS)
}
