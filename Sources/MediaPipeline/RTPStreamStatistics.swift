import MediaWire

/// Reception statistics of one incoming RTP stream, as RFC 3550 defines them for receiver
/// reports: extended highest sequence number, cumulative and fractional loss
/// ([§6.4.1](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1), [A.3](https://www.rfc-editor.org/rfc/rfc3550#appendix-A.3))
/// and interarrival jitter ([A.8](https://www.rfc-editor.org/rfc/rfc3550#appendix-A.8)). I/O-free.
public struct RTPReceiveStatistics: Sendable {
    public let clockRate: Int
    public private(set) var received = 0
    public private(set) var bytes = 0
    private var unwrapper = SequenceUnwrapper()
    private var base: Int64?
    private var highest: Int64 = 0
    /// Jitter in timestamp units, scaled by 16 as in A.8.
    private var jitterQ4: Int64 = 0
    private var lastTransit: Int64?
    private var expectedPrior: Int64 = 0
    private var receivedPrior = 0
    /// From the sender's last SR: the middle 32 bits of its NTP time, and when it arrived.
    private var lastSenderReport: (ntpMiddle: UInt32, arrival: MediaTime)?

    public init(clockRate: Int) { self.clockRate = clockRate }

    public mutating func record(sequenceNumber: UInt16, timestamp: UInt32, size: Int, arrival: MediaTime) {
        let seq = unwrapper.unwrap(sequenceNumber)
        if base == nil {
            base = seq
            highest = seq
        }
        highest = max(highest, seq)
        received += 1
        bytes += size
        // Transit in timestamp units; jitter moves 1/16 of the way to each new difference.
        let arrivalUnits = arrival.microseconds * Int64(clockRate) / 1_000_000
        let transit = arrivalUnits - Int64(timestamp)
        if let last = lastTransit {
            var d = transit - last
            if d < 0 { d = -d }
            jitterQ4 += d - ((jitterQ4 + 8) >> 4)
        }
        lastTransit = transit
    }

    public mutating func recordSenderReport(ntpTimestamp: UInt64, arrival: MediaTime) {
        lastSenderReport = (UInt32(truncatingIfNeeded: ntpTimestamp >> 16), arrival)
    }

    public var expected: Int64 { base.map { highest - $0 + 1 } ?? 0 }
    /// Packets expected but not received (negative with duplicates, as the RFC allows).
    public var cumulativeLost: Int64 { expected - Int64(received) }
    public var jitter: UInt32 { UInt32(clamping: jitterQ4 >> 4) }
    public var jitterMilliseconds: Double { Double(jitter) * 1_000 / Double(clockRate) }

    /// A report block for this stream; advances the "since last report" interval.
    public mutating func reportBlock(ssrc: UInt32, now: MediaTime) -> RTCPReportBlock {
        let expectedInterval = expected - expectedPrior
        let receivedInterval = Int64(received - receivedPrior)
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 = expectedInterval <= 0 || lostInterval <= 0 ? 0 : UInt8(clamping: (lostInterval << 8) / expectedInterval)
        var lsr: UInt32 = 0, dlsr: UInt32 = 0
        if let sr = lastSenderReport {
            lsr = sr.ntpMiddle
            dlsr = UInt32(clamping: (now - sr.arrival).microseconds * 65_536 / 1_000_000)
        }
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: Int32(clamping: cumulativeLost),
            extendedHighestSequence: UInt32(truncatingIfNeeded: highest), jitter: jitter, lastSenderReport: lsr,
            delaySinceLastSenderReport: dlsr)
    }
}

/// Sending side of one outgoing stream: counts for the sender report
/// ([RFC 3550 §6.4.1](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1)) and the round-trip
/// time computed from the receiver's reports (LSR/DLSR, §6.4.1).
public struct RTPSendStatistics: Sendable {
    public let clockRate: Int
    public private(set) var packets: UInt32 = 0
    public private(set) var octets: UInt32 = 0
    private var lastTimestamp: (rtp: UInt32, at: MediaTime)?
    /// Our SRs by their NTP middle 32 bits, to match LSR in reports.
    private var sentReports: [(ntpMiddle: UInt32, at: MediaTime)] = []
    /// Latest round-trip estimate (ms).
    public private(set) var roundTripTime: Double?
    public private(set) var fractionLost: Double = 0
    public private(set) var cumulativeLost: Int32 = 0
    public private(set) var jitterMilliseconds: Double = 0

    public init(clockRate: Int) { self.clockRate = clockRate }

    public mutating func record(timestamp: UInt32, payloadBytes: Int, at now: MediaTime) {
        packets &+= 1
        octets &+= UInt32(truncatingIfNeeded: payloadBytes)
        lastTimestamp = (timestamp, now)
    }

    /// A sender report for `ssrc`, or nil before the first packet. `ntp` is the current time as
    /// a 64-bit NTP timestamp.
    public mutating func senderReport(ssrc: UInt32, ntp: UInt64, now: MediaTime) -> RTCPSenderReport? {
        guard let last = lastTimestamp else { return nil }
        let elapsed = (now - last.at).microseconds * Int64(clockRate) / 1_000_000
        let rtp = last.rtp &+ UInt32(truncatingIfNeeded: elapsed)
        sentReports.append((UInt32(truncatingIfNeeded: ntp >> 16), now))
        if sentReports.count > 8 { sentReports.removeFirst() }
        return RTCPSenderReport(ssrc: ssrc, ntpTimestamp: ntp, rtpTimestamp: rtp, packetCount: packets, octetCount: octets)
    }

    /// Takes a report block about this stream from the receiver. Returns the round trip it
    /// measured (ms) when it echoes a sender report no earlier block echoed — a fresh sample; a
    /// receiver that reports more often than it is sent reports echoes the same one again, and
    /// that says nothing new.
    @discardableResult
    public mutating func receive(_ block: RTCPReportBlock, now: MediaTime) -> Double? {
        fractionLost = Double(block.fractionLost) / 256
        cumulativeLost = block.cumulativeLost
        jitterMilliseconds = Double(block.jitter) * 1_000 / Double(clockRate)
        guard block.lastSenderReport != 0, let sent = sentReports.first(where: { $0.ntpMiddle == block.lastSenderReport }) else { return nil }
        let delay = Int64(block.delaySinceLastSenderReport) * 1_000_000 / 65_536
        let rtt = (now - sent.at).microseconds - delay
        guard rtt >= 0 else { return nil }
        roundTripTime = Double(rtt) / 1_000
        defer { lastSampled = block.lastSenderReport }
        return lastSampled == block.lastSenderReport ? nil : roundTripTime
    }

    /// The sender report the last round-trip sample echoed.
    private var lastSampled: UInt32?
}
