/// A seeded, in-memory model of a network path for I/O-free tests: each packet gets a delay of
/// `base ± jitter` (normal, never below zero), is lost with probability `loss`, and with
/// probability `reorder` is held back an extra `reorderDelay` so that later packets overtake it.
public struct NetworkSimulator<Packet> {
    public var baseDelayMs: Double
    public var jitterMs: Double
    public var loss: Double
    public var reorder: Double
    public var reorderDelayMs: Double = 25
    private var rng: SeededRandom
    private var inFlight: [(arrival: Int64, order: Int, packet: Packet)] = []
    private var counter = 0
    public private(set) var sent = 0
    public private(set) var dropped = 0

    public init(seed: UInt64, baseDelayMs: Double, jitterMs: Double, loss: Double, reorder: Double) {
        rng = SeededRandom(seed: seed)
        self.baseDelayMs = baseDelayMs
        self.jitterMs = jitterMs
        self.loss = loss
        self.reorder = reorder
    }

    /// Sends a packet at `now` (µs); returns false if the network dropped it.
    @discardableResult
    public mutating func send(_ packet: Packet, now: Int64) -> Bool {
        sent += 1
        if Double.random(in: 0..<1, using: &rng) < loss {
            dropped += 1
            return false
        }
        var delay = max(0, rng.gaussian(mean: baseDelayMs, deviation: jitterMs))
        if Double.random(in: 0..<1, using: &rng) < reorder { delay += reorderDelayMs }
        counter += 1
        inFlight.append((now + Int64(delay * 1_000), counter, packet))
        return true
    }

    /// Packets that have arrived by `now`, in arrival order.
    public mutating func receive(now: Int64) -> [(arrival: Int64, packet: Packet)] {
        guard inFlight.contains(where: { $0.arrival <= now }) else { return [] }
        let ready = inFlight.filter { $0.arrival <= now }.sorted { ($0.arrival, $0.order) < ($1.arrival, $1.order) }
        inFlight.removeAll { $0.arrival <= now }
        return ready.map { ($0.arrival, $0.packet) }
    }

    public var isIdle: Bool { inFlight.isEmpty }
}
