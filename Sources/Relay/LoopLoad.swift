import MediaPipeline

/// How much of the wall clock a relay worker's loop spends working — a read burst from receive
/// to flush, its timer's ticks, and work handed to it (`RelayWorker.execute`: pipes between
/// workers, renditions' output) — measured over windows of ``window``.
///
/// Adaptation asks it before acting on a viewer's report (issue 14, item 3): while the loop is
/// saturated, the loss and queueing viewers report are made by the relay itself, not by their
/// paths, and moving them to a rendition would add a transcoder's work to an overloaded machine.
/// Busy time, not tick lateness: a tick is late as often because its thread waited for a core
/// (another process, a codec thread) as because the loop had work, and holding adaptation on
/// lateness kept a viewer behind a 300 kbit/s cap on `source` for 7 s on a loaded CI machine.
/// Wall-clock time counts: a burst whose thread is preempted counts as busy, so this errs toward
/// "busy" only by the preemptions that land inside a burst (bursts last micro- to milliseconds).
struct LoopLoad {
    /// The measuring window: about one receiver-report interval, the pace of adaptation's input.
    static let window = MediaTime(microseconds: 1_000_000)
    /// From this busy share on, the loop counts as saturated.
    static let saturation = 0.85

    private var busyInWindow = MediaTime.zero
    private var windowStart: MediaTime?
    /// The busy share (0…1) of the last complete window.
    private(set) var busyFraction = 0.0

    /// The loop worked for `duration` (its end is at or before the next ``tick(now:)``).
    mutating func worked(_ duration: MediaTime) {
        if duration > .zero { busyInWindow = busyInWindow + duration }
    }

    /// Closes the window once it is ``window`` long.
    mutating func tick(now: MediaTime) {
        guard let start = windowStart else {
            windowStart = now
            busyInWindow = .zero
            return
        }
        let elapsed = now - start
        guard elapsed >= Self.window else { return }
        busyFraction = min(1, Double(busyInWindow.microseconds) / Double(elapsed.microseconds))
        windowStart = now
        busyInWindow = .zero
    }

    /// The last window was at least ``saturation`` busy.
    var isSaturated: Bool { busyFraction >= Self.saturation }
}
