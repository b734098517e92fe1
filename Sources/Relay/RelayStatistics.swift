import MediaWire

/// Counters of one peer (and, summed, of the relay), for logs and metrics.
public struct PeerStatistics: Sendable, Equatable {
    public var packetsIn = 0
    public var bytesIn = 0
    public var packetsOut = 0
    public var bytesOut = 0
    public var nacksIn = 0
    /// Packets those NACKs named (as read: at most ``RelayState/maximumNACKEntries`` entries a datagram).
    public var nackedPackets = 0
    public var retransmitted = 0
    public var keyFrameRequests = 0
    /// PLIs and FIRs a subscriber sent (a rendition's subscriber's go to its encoder; anyone
    /// else's is kept until a key frame reaches it and passed on to the publisher at most once a
    /// second: ``PendingKeyFrame``).
    public var keyFrameRequestsIn = 0
    /// Of ``keyFrameRequests``, those that passed on a subscriber's own request (the rest were
    /// the relay's: a subscriber's first frame, a move to another layer or rendition). Counted on
    /// the publisher's worker only: a request of a viewer on another worker reaches it as the
    /// mirror's and counts as the relay's.
    public var keyFrameRequestsPassedOn = 0
    public var dropped = 0
    /// Automatic moves between renditions.
    public var qualityChanges = 0
    /// NACKed packets not resent: sent again within a round trip, or over the retransmission budget.
    public var retransmissionsSkipped = 0
    /// Of those, the ones over the budget (the rest were sent again within a round trip).
    public var retransmissionsOverBudget = 0
    /// Bandwidth probes sent (``BandwidthProbe`` trains and ``RoundTripProbe``s).
    public var probes = 0
    /// NACKs the relay sent a publisher for what its uplink lost (``NACKGenerator``), and the
    /// packets they named the first time.
    public var nacksOut = 0
    public var upstreamNACKed = 0
    /// Packets asked for that filled such a gap (on RTX or the stream itself) and went on to
    /// the viewers (not counted: late packets that filled one before it was asked for).
    public var recovered = 0
    /// Video packets of temporal layers above what a subscriber gets, not sent it
    /// (``TemporalLayerSelection``), and how often its temporal layer changed.
    public var temporalSkipped = 0
    public var temporalChanges = 0
    /// Video packets of a simulcast layer held back while the subscriber waited for a lower
    /// layer's key frame (``LayerSelection/holding``).
    public var layerHeld = 0
    /// Moves to another simulcast layer made, and the time they waited in all, from the choice
    /// to the key frame of the layer chosen going out (``LayerSelection/switchTo(_:now:)``).
    public var layerSwitches = 0
    public var layerSwitchWaitMicroseconds: Int64 = 0
    /// Times a publisher's simulcast layer resumed after ``SimulcastLayer/inactiveAfter`` or more
    /// of silence, counted per layer: stopped by its publisher, lost upstream, or — libwebrtc's
    /// encoder after a key frame — skipping that long to pay for one.
    public var layerPauses = 0
    /// Transport-wide feedback reports whose queue would have read as congestion but was a burst
    /// the viewer's path drains by itself (``RelayState/isBurst(_:sending:now:)``).
    public var burstsDrained = 0
    /// NACKed packets resent again on the deferred schedule (``DeferredNACKs``: viewers without
    /// transport-wide feedback; up to three for one request).
    public var retransmittedAgain = 0

    public init() {}

    mutating func add(_ o: PeerStatistics) {
        packetsIn += o.packetsIn
        bytesIn += o.bytesIn
        packetsOut += o.packetsOut
        bytesOut += o.bytesOut
        nacksIn += o.nacksIn
        nackedPackets += o.nackedPackets
        retransmitted += o.retransmitted
        keyFrameRequests += o.keyFrameRequests
        keyFrameRequestsIn += o.keyFrameRequestsIn
        keyFrameRequestsPassedOn += o.keyFrameRequestsPassedOn
        layerPauses += o.layerPauses
        burstsDrained += o.burstsDrained
        retransmittedAgain += o.retransmittedAgain
        dropped += o.dropped
        qualityChanges += o.qualityChanges
        retransmissionsSkipped += o.retransmissionsSkipped
        retransmissionsOverBudget += o.retransmissionsOverBudget
        probes += o.probes
        nacksOut += o.nacksOut
        upstreamNACKed += o.upstreamNACKed
        recovered += o.recovered
        temporalSkipped += o.temporalSkipped
        temporalChanges += o.temporalChanges
        layerHeld += o.layerHeld
        layerSwitches += o.layerSwitches
        layerSwitchWaitMicroseconds += o.layerSwitchWaitMicroseconds
    }
}

/// The relay's totals at one moment, for `/metrics`.
public struct RelaySnapshot: Sendable, Equatable {
    public var publishers = 0
    /// Subscribers by the rendition they get now.
    public var viewers: [Quality: Int] = [:]
    /// Renditions (transcoders) running.
    public var renditions = 0
    /// Everything counted since start, ended sessions included.
    public var totals = PeerStatistics()
    /// Datagrams dropped since start, by reason.
    public var dropped: [String: Int] = [:]
    /// How late the media workers' last ticks ran, seconds (the largest over the workers): how
    /// far behind their loops are.
    public var loopLag = 0.0
    /// Ticks that ran more than 50 ms late since start, over the workers.
    public var lateTicks = 0
    /// The busy share of the media workers' loops over their last second (the largest over the
    /// workers, 0…1): ``LoopLoad``.
    public var loopBusy = 0.0
    /// Subscribers' receiver reports that adaptation set aside because their worker's loop was
    /// saturated (the relay, not the path, was the bottleneck), since start.
    public var adaptationHeld = 0
    /// Pipes from a worker holding a publication to another worker mirroring it, now.
    public var pipes = 0
    /// Packets handed from one worker to another through pipes, since start.
    public var pipedPackets = 0
    /// Media pipes between this node and others (``NodePipe``), now: those feeding another node's
    /// mirror (one per node and publication, whatever its viewers) and those feeding a mirror here.
    public var nodePipesOut = 0
    public var nodePipesIn = 0
    public init() {}
}

/// One stream's figures: packets and bytes, loss, jitter and (outgoing) round-trip time.
public struct StreamStatistics: Sendable, Equatable {
    public var packets: Int
    public var bytes: Int
    public var lost: Int
    public var jitterMilliseconds: Double
    public var roundTripMilliseconds: Double?
}

/// One session's figures.
public struct SessionStatistics: Sendable, Equatable {
    public var id: String
    public var room: String
    public var publishing: Bool
    public var streams: [MediaKind: StreamStatistics]
    public var nacks: Int
    /// Packets those NACKs named, as read.
    public var nackedPackets: Int
    public var retransmitted: Int
    public var retransmissionsSkipped: Int
    /// For a subscriber: the publication it receives.
    public var watching: String?
    public var keyFrameRequests: Int
    /// For a subscriber: the rendition it gets now, and how often it moved (by adaptation or on request).
    public var quality: Quality
    public var qualityChanges: Int
}
