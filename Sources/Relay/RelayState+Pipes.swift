import MediaPipeline
import MediaWire
import NIOCore

/// Both ends of the pipes between workers (``PipeOut``): on the worker holding a publication, what
/// it tells others and the pipes it feeds; on a worker holding some of the room's subscribers, the
/// mirror publication the pipe feeds. ``RelayServer`` makes the calls, each on the right worker's
/// loop; nothing here touches another worker's state.
extension RelayState {
    /// How long a mirror without subscribers is kept (an open that made it may still be
    /// subscribing) before it goes and its pipe is detached.
    static let mirrorGrace = MediaTime(microseconds: 2_000_000)

    // MARK: The origin's side

    /// What another worker needs to mirror `source` (or the room's latest publication).
    func describe(room: String, source: String?) throws(RelayError) -> PublicationDescription {
        let candidates = (publishers[room] ?? []).filter { $0.mirrorToken == nil || $0.fromNode }
        guard let publication = source == nil ? candidates.last : candidates.first(where: { $0.id == source }) else {
            throw RelayError(.nothingPublished, "nothing is published in room \(room)")
        }
        return publication.description
    }

    /// Starts piping publication `id` to another worker's mirror; false when it has ended (the
    /// mirror is then let go). The publisher is asked for a key frame (throttled as any), so
    /// that the far end's subscribers start at once.
    func attach(_ pipe: PipeOut, to id: String, now: MediaTime) -> (attached: Bool, out: [OutgoingDatagram]) {
        guard let publication = publications[id], publication.mirrorToken == nil || publication.fromNode else { return (false, []) }
        publication.attach(pipe)
        if !piping.contains(where: { $0 === publication }) { piping.append(publication) }
        return (true, publication.requestKeyFrameFromPublisher(now: now).map { [$0] } ?? [])
    }

    /// The mirror `token` on `worker` has no subscriber left.
    func detachPipe(from id: String, worker: Int, token: UInt64) {
        guard let publication = publications[id], publication.detach(worker: worker, token: token) else { return }
        if publication.pipes.isEmpty { piping.removeAll { $0 === publication } }
    }

    /// A mirror's subscribers or renditions want a key frame of publication `id` (of one simulcast
    /// `layer`, or of everything).
    func pipedKeyFrameRequest(for id: String, layer: Int? = nil, now: MediaTime) -> [OutgoingDatagram] {
        guard let publication = publications[id], publication.mirrorToken == nil || publication.fromNode else { return [] }
        if let layer { return publication.requestKeyFrame(layer: layer, now: now).map { [$0] } ?? [] }
        return publication.requestKeyFrameFromPublisher(now: now).map { [$0] } ?? []
    }

    /// A mirror's rendition misses packets of publication `id`: the publisher is asked for them,
    /// and what it resends is piped on with the rest.
    func pipedNACK(for id: String, lost: [UInt16], kind: MediaKind) -> [OutgoingDatagram] {
        guard let publication = publications[id], publication.mirrorToken == nil || publication.fromNode else { return [] }
        return publication.nack(lost, kind: kind).map { [$0] } ?? []
    }

    /// Sends what this loop turn queued for other workers: one hop per pipe per turn, called by
    /// the worker's handler when a read batch is done. Returns the datagrams for other nodes
    /// (``NodePipe``), which the handler writes.
    @discardableResult
    func flushPipes() -> [OutgoingDatagram] {
        for publication in piping {
            let (sent, dropped) = publication.flushPipes()
            pipedPackets += sent
            if dropped > 0 { drops.count("pipe-backlog", dropped) }
        }
        return takeNodeOutbox()
    }

    // MARK: The mirror's side

    /// The mirror of `description` here, made if there is none: the token of the one that
    /// exists (`made` false), or of a new one whose pipe the caller must attach at the origin —
    /// from this worker's loop, so that the origin gets this worker's attaches and detaches in
    /// order. Nil when the publication is held here (no mirror needed), or, with
    /// `onlyForOrphans`, when no subscriber here waits for the room's next broadcast publisher;
    /// those that wait follow the mirror once its pipe is attached (``mirrorAttached(id:token:)``).
    func mirror(
        _ description: PublicationDescription, onlyForOrphans: Bool = false, upstream: (UInt64) -> PipeUpstream
    ) -> (token: UInt64, made: Bool)? {
        if let existing = publications[description.id] {
            guard let token = existing.mirrorToken else { return nil }  // held here: no mirror needed
            return (token, false)
        }
        if onlyForOrphans && !(description.exclusive && hasOrphans(in: description.room)) { return nil }
        let token = UInt64.random(in: 1...UInt64.max)
        let mirror = Publication(mirroring: description, upstream: upstream(token), token: token)
        publishers[description.room, default: []].append(mirror)
        publications[description.id] = mirror
        return (token, true)
    }

    /// The origin attached mirror `token`'s pipe: a broadcast's subscribers waiting here follow it.
    /// (Not sooner: had the origin ended meanwhile, they would be left waiting on a mirror that
    /// ends, while the next publisher's open found nobody waiting here.)
    func mirrorAttached(id: String, token: UInt64) {
        guard let mirror = publications[id], mirror.mirrorToken == token else { return }
        mirror.attached = true
        if mirror.exclusive { adoptOrphans(of: mirror.room, by: mirror) }
    }

    /// What the pipe of mirror `token` brought: fanned out here as the origin fanned it out there.
    func receivePiped(_ batch: [PipedPacket], id: String, token: UInt64, now: MediaTime) -> [OutgoingDatagram] {
        guard let mirror = publications[id], mirror.mirrorToken == token else {
            // A batch already under way when its mirror went.
            drops.count("pipe-without-mirror")
            return []
        }
        var out: [OutgoingDatagram] = []
        for piped in batch {
            guard let header = piped.packet.withUnsafeReadableBytes({ try? RTPHeaderView($0) }) else { continue }
            out += mirror.receive(
                piped.packet, header: header, kind: piped.kind, now: now, allocator: allocator, drops: drops, owned: true, layer: piped.layer)
        }
        return out
    }

    /// The origin of mirror `token` has ended: like a publisher leaving here, its renditions stop
    /// and a broadcast's subscribers wait for the next publisher.
    func mirrorEnded(id: String, token: UInt64) {
        guard let mirror = publications[id], mirror.mirrorToken == token else { return }
        remove(mirror)
        let left = mirror.end()
        if mirror.exclusive && !left.isEmpty { orphans[mirror.room, default: []] += left }
    }

    /// Lets go of a mirror without subscribers and tells the origin to stop piping to it.
    func dropMirror(_ mirror: Publication) {
        remove(mirror)
        _ = mirror.end()
        if case .pipe(let upstream, _) = mirror.origin { upstream.detach() }
    }

    private func remove(_ publication: Publication) {
        publishers[publication.room]?.removeAll { $0 === publication }
        if publishers[publication.room]?.isEmpty == true { publishers[publication.room] = nil }
        if publications[publication.id] === publication { publications[publication.id] = nil }
        piping.removeAll { $0 === publication }  // a mirror of another node's may pipe to workers here
    }

    /// Mirrors without a subscriber for ``mirrorGrace`` go (one made for an open that then
    /// failed — a refused offer, a quota — has never had one; the last subscriber's close drops
    /// its mirror at once).
    func sweepMirrors(now: MediaTime) {
        for mirror in Array(publications.values) where mirror.mirrorToken != nil {
            // A mirror of another node's publication may feed this process's other workers.
            guard mirror.allSubscribers.isEmpty && mirror.pipes.isEmpty else {
                mirror.emptySince = nil
                continue
            }
            if let since = mirror.emptySince {
                if now - since >= Self.mirrorGrace { dropMirror(mirror) }
            } else {
                mirror.emptySince = now
            }
        }
    }

    /// Mirrors measure what arrives once per report interval (their subscribers' adaptation
    /// compares it with what they get); they send no RTCP.
    func measureMirrors(now: MediaTime, intervalSeconds: Double) {
        for publication in publications.values where publication.mirrorToken != nil {
            _ = publication.report(now: now, intervalSeconds: intervalSeconds)
        }
    }
}
