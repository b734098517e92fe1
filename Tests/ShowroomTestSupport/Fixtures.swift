import Foundation

/// Reads the committed capture files: records of a 2-byte big-endian length and the bytes.
/// They were written by `tools/fixtures/capture.py` from real GStreamer pipelines.
public enum Fixtures {
    public static func records(_ name: String, in directory: String) throws -> [[UInt8]] {
        let url = URL(fileURLWithPath: directory).appendingPathComponent("Fixtures").appendingPathComponent(name)
        let data = [UInt8](try Data(contentsOf: url))
        var out: [[UInt8]] = []
        var i = 0
        while i + 2 <= data.count {
            let n = Int(data[i]) << 8 | Int(data[i + 1])
            guard i + 2 + n <= data.count else { throw CocoaError(.fileReadCorruptFile) }
            out.append(Array(data[(i + 2)..<(i + 2 + n)]))
            i += 2 + n
        }
        return out
    }

    /// The directory of the test file that calls this, for `records(_:in:)`.
    public static func directory(of file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().path
    }
}
