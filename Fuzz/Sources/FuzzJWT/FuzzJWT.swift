import FuzzSupport
import Crypto
import Dispatch
import Foundation
import ShowroomServer

/// Access tokens (`TokenAuthority.verify`, `authorize`): JWTs as WHIP/WHEP `Authorization`
/// headers and the `/ws` `hello` carry them.
///
/// Input: the first byte picks what the rest is —
/// - even: the token text itself (compact JWS, anything);
/// - 1 mod 4: the claims JSON, which the harness signs with the server's secret, so that claim
///   decoding and the expiry check are reached;
/// - 3 mod 4: a header JSON, a 0 byte, then the claims JSON, both signed (header parsing and key
///   selection with a valid signature).
let secret = Array("showroom-fuzz-secret-0123456789abcdef".utf8)
let authority: TokenAuthority = blocking { await TokenAuthority(secret: secret) }

final class Box<T>: @unchecked Sendable { var value: T? }

/// Runs async work to completion from libFuzzer's synchronous callback.
func blocking<T>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = Box<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

func base64URL(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

func signed(header: ArraySlice<UInt8>, claims: ArraySlice<UInt8>) -> String {
    let input = base64URL(header) + "." + base64URL(claims)
    let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))
    return input + "." + base64URL(mac)
}

let standardHeader = Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)[...]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = bytes.first else { return 0 }
    let rest = bytes.dropFirst()
    let token: String
    switch mode & 3 {
    case 1: token = signed(header: standardHeader, claims: rest)
    case 3:
        let cut = rest.firstIndex(of: 0) ?? rest.endIndex
        token = signed(header: rest[..<cut], claims: rest[cut...].dropFirst())
    default: token = String(decoding: rest, as: UTF8.self)
    }
    // `authorize` (the WHIP/WHEP path) runs `verify` (the /ws hello path) first.
    let authorized: AccessToken? = blocking {
        try? await authority.authorize("Bearer \(token)", room: "demo", role: .publisher)
    }
    if let authorized {
        // `authorize` trims spaces and tabs around the token; `verify` takes it as given.
        let bare = token.trimmingCharacters(in: .whitespaces)
        let verified: AccessToken? = blocking { try? await authority.verify(bare) }
        precondition(authorized == verified, "authorize accepted what verify did not")
        precondition(authorized.room == "demo" && authorized.role.canPublish, "authorize let a token through for another room or role")
        precondition(authorized.exp.value > Date(), "an expired token was accepted")
        // No forgery: whatever the header says (`alg`, `kid`), an accepted token carries
        // HMAC-SHA256 with the server's secret over its first two parts.
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        precondition(parts.count == 3, "accepted a token of \(parts.count) parts")
        let mac = Array(HMAC<SHA256>.authenticationCode(for: Array("\(parts[0]).\(parts[1])".utf8), using: SymmetricKey(data: secret)))
        var b64 = parts[2].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        b64 += String(repeating: "=", count: (4 - b64.count % 4) % 4)
        precondition(Data(base64Encoded: b64).map(Array.init) == mac, "accepted a token whose signature is not the server's HMAC")
    }
    return 0
}

@_cdecl("FuzzJWT_main")
public func fuzzJWTMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzJWT)
}
