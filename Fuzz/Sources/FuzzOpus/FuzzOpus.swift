import FuzzSupport
import MediaWire

/// The Opus TOC byte and frame count (RFC 6716 §3.1, RFC 7587): whatever it accepts describes
/// 1–48 frames of a legal size, at most 120 ms.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpus(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let info = try? OpusPacketInfo(parsing: bytes) else { return 0 }
    precondition((1...48).contains(info.frameCount), "Opus frame count \(info.frameCount)")
    precondition([120, 240, 480, 960, 1920, 2880].contains(info.samplesPerFrame), "Opus frame size \(info.samplesPerFrame)")
    precondition(info.duration <= 5_760 && info.duration > 0, "Opus duration \(info.duration)")
    _ = info.mode
    // The same TOC read from a slice in the middle of a larger buffer.
    let shifted = [0xFF] + bytes + [0xFF]
    precondition((try? OpusPacketInfo(parsing: shifted[1..<(shifted.count - 1)])) == info, "slice indices matter")
    return 0
}

@_cdecl("FuzzOpus_main")
public func fuzzOpusMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzOpus)
}
