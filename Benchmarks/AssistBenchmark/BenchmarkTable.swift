import Foundation

/// Timing helpers and a plain table for the benchmark's output.
enum BenchmarkTable {
    /// Runs `body` once and returns its result and the wall time in seconds.
    static func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    static func row(_ name: String, _ value: String, _ note: String = "") {
        let padded = name.padding(toLength: 48, withPad: " ", startingAt: 0)
        let v = value.padding(toLength: 28, withPad: " ", startingAt: 0)
        print("| \(padded) | \(v) | \(note)")
    }

    static func header(_ title: String) {
        print("")
        print("## \(title)")
        row("measure", "value", "note")
    }

    /// The q-quantile (0…1) of sorted values.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let i = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[i]
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.3f ms", seconds * 1000) }
    static func s(_ seconds: Double) -> String { String(format: "%.2f s", seconds) }
}
