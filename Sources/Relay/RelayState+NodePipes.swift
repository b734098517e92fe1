import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore

/// Both ends of the media pipes between nodes (``NodePipe``), on the worker that holds them: the
/// origin's (a publication held here, piped to another node's mirror) and the mirror's (a
/// publication of another node, fanned out here). What they send waits in ``nodeOutbox`` until
/// the loop turn ends (``flushPipes()``) or the next tick.
extension RelayState {
    /// Node pipes one worker holds, of both roles: a node of a cluster of 256 nodes mirroring a
    /// room from every other, or as many nodes mirroring this worker's rooms.
    static let maximumNodePipes = 256

    /// The ``PipeOut/worker`` the next node pipe's ``PipeOut`` goes by: negative, so never a
    /// worker of this process, and one per pipe (a publication keeps one pipe per worker).
    func nextNodeWorker() -> Int {
        nodeWorkers = nodeWorkers == Int.min ? -1 : nodeWorkers - 1
        return nodeWorkers
    }

    // MARK: The origin's side

    /// Makes a pipe of `source` (the room's latest publication when nil) of `room`, held here, to
    /// the node whose mirror `token` names, at `peer`; returns what that node's mirror needs and the
    /// salt drawn for the pipe's key. Nothing is sent until that node's first datagram on the pipe
    /// arrives: then the pipe is attached, and the publisher asked for a key frame (throttled as
    /// any) so the far viewers start at once. Unheard for ``NodePipe/timeout``, it goes.
    func pipeToNode(room: String, source: String?, token: UInt64, secret: [UInt8], peer: PeerAddress, now: MediaTime)
        throws(RelayError) -> (description: PublicationDescription, salt: [UInt8])
    {
        guard nodePipes[token] == nil else { throw RelayError(.badOffer, "pipe token \(token) is in use") }
        guard nodePipes.count < Self.maximumNodePipes else {
            count("node-pipe-at-capacity")
            throw RelayError(.atCapacity, "this worker holds \(Self.maximumNodePipes) node pipes, the most it takes")
        }
        let candidates = (publishers[room] ?? []).filter { $0.mirrorToken == nil }
        guard let publication = source == nil ? candidates.last : candidates.first(where: { $0.id == source }) else {
            throw RelayError(.nothingPublished, "nothing is published in room \(room) on this node")
        }
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<NodePipeCipher.saltLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
        guard let cipher = NodePipeCipher(secret: secret, token: token, salt: salt) else {
            throw RelayError(.internalError, "no cipher for the pipe")
        }
        let pipe = PipeOut(
            worker: nextNodeWorker(), token: token,
            send: { [weak self] batch, gauge in
                self?.sealForNode(batch, token: token)
                gauge.done(batch.count)
            },
            ended: { [weak self] in self?.originEnded(token: token) })
        nodePipes[token] = NodePipe(role: .origin(publication: publication.id, pipe: pipe), token: token, cipher: cipher, peer: peer, now: now)
        return (publication.description, salt)
    }

    /// The mirroring node was heard on pipe `pipe` for the first time: the pipe starts.
    private func confirm(_ pipe: NodePipe, now: MediaTime) -> [OutgoingDatagram] {
        pipe.confirmed = true
        guard let out = pipe.pipeOut else { return [] }
        let (attached, keyFrame) = attach(out, to: pipe.publication, now: now)
        if !attached { originEnded(token: pipe.token) }  // it ended meanwhile
        return keyFrame
    }

    /// A loop turn's packets for the node of pipe `token`, each sealed into a datagram of its own.
    private func sealForNode(_ batch: [PipedPacket], token: UInt64) {
        guard let pipe = nodePipes[token] else { return }
        for piped in batch {
            // The far socket reads datagrams of at most this size; a larger one would arrive cut.
            guard piped.packet.readableBytes + 2 + NodePipeDatagram.overhead <= Self.maximumDatagram else {
                count("node-pipe-oversize")
                continue
            }
            if let d = pipe.mediaDatagram(piped.packet, kind: piped.kind, layer: piped.layer, allocator: allocator) { nodeOutbox.append(d) }
        }
    }

    /// The publication piped through `token` ended: the mirroring node is told.
    private func originEnded(token: UInt64) {
        guard let pipe = nodePipes.removeValue(forKey: token) else { return }
        if let d = pipe.datagram(.ended) { nodeOutbox.append(d) }
    }

    // MARK: The mirror's side

    /// A mirror here of the publication `offer` describes, fed by the origin node's pipe `token`
    /// from `offer`'s address; returns its id. A broadcast's viewers here waiting for the room's
    /// next publisher follow it.
    func mirrorFromNode(_ offer: NodePipeOffer, token: UInt64, secret: [UInt8], now: MediaTime) throws(RelayError) -> String {
        guard nodePipes[token] == nil else { throw RelayError(.internalError, "pipe token \(token) is in use") }
        guard nodePipes.count < Self.maximumNodePipes else {
            count("node-pipe-at-capacity")
            throw RelayError(.atCapacity, "this worker holds \(Self.maximumNodePipes) node pipes, the most it takes")
        }
        guard let peer = PeerAddress(host: offer.host, port: offer.port) else {
            throw RelayError(.internalError, "the origin node's media address \(offer.host):\(offer.port) is not an IP address and port")
        }
        guard !offer.kinds.isEmpty, offer.rids.count <= 4, offer.id.utf8.count <= 128 else {
            throw RelayError(.internalError, "the origin node described publication \(offer.id) as no publication can be")
        }
        // Mirrored here already (an open's pipe made meanwhile): that one serves; the origin
        // drops the pipe just made when it hears nothing on it (``NodePipe/timeout``).
        if publications[offer.id] != nil { return offer.id }
        guard let salt = offer.saltBytes, let cipher = NodePipeCipher(secret: secret, token: token, salt: salt) else {
            throw RelayError(.internalError, "the origin node's pipe salt \(offer.salt.prefix(40)) is not 16 bytes in hex")
        }
        let upstream = PipeUpstream(
            requestKeyFrame: { [weak self] layer in
                self?.toOrigin(token, .keyFrame, [layer.map { UInt8(clamping: $0) } ?? NodePipeDatagram.noLayer])
            },
            nack: { [weak self] lost, kind in self?.toOrigin(token, .nack, NodePipeDatagram.nackPlaintext(lost, kind: kind)) },
            detach: { [weak self] in self?.detachFromOrigin(token: token) })
        let mirror = Publication(mirroring: offer.description, upstream: upstream, token: token)
        mirror.fromNode = true
        mirror.attached = true
        publishers[offer.room, default: []].append(mirror)
        publications[offer.id] = mirror
        let pipe = NodePipe(role: .mirror(publication: offer.id), token: token, cipher: cipher, peer: peer, now: now)
        pipe.confirmed = true
        nodePipes[token] = pipe
        // The origin starts once it hears this.
        toOrigin(token, .mirrorAlive, [])
        if mirror.exclusive { adoptOrphans(of: offer.room, by: mirror) }
        return offer.id
    }

    /// Ends the mirrors here of other nodes' publications of `room` (the origin is told to stop);
    /// a broadcast's viewers wait for the room's next publisher.
    func endNodeMirrors(in room: String) {
        for mirror in (publishers[room] ?? []) where mirror.fromNode {
            guard let token = mirror.mirrorToken else { continue }
            detachFromOrigin(token: token)
            mirrorEnded(id: mirror.id, token: token)
        }
    }

    /// The id of a mirror here of a publication of `room` held by another node (`source`, or
    /// the room's latest), if there is one.
    func nodeMirror(room: String, source: String?) -> String? {
        let mirrors = (publishers[room] ?? []).filter(\.fromNode)
        return (source == nil ? mirrors.last : mirrors.first { $0.id == source })?.id
    }

    private func toOrigin(_ token: UInt64, _ kind: NodePipeDatagram.Kind, _ plaintext: [UInt8]) {
        if let d = nodePipes[token]?.datagram(kind, plaintext) { nodeOutbox.append(d) }
    }

    /// The mirror of pipe `token` has no viewer left: the origin is told to stop.
    private func detachFromOrigin(token: UInt64) {
        guard let pipe = nodePipes.removeValue(forKey: token) else { return }
        if let d = pipe.datagram(.detach) { nodeOutbox.append(d) }
    }

    // MARK: Both

    /// A datagram of a node pipe (``NodePipeDatagram``): its pipe is looked up by token and its
    /// key checks it before anything it says is done; what is unknown, replayed, forged or sent the
    /// wrong way is dropped and counted.
    func receiveNodePipe(_ buffer: ByteBuffer, now: MediaTime) -> [OutgoingDatagram] {
        let checked = buffer.withUnsafeReadableBytes { bytes -> (NodePipeDatagram.Kind, UInt64, NodePipe)? in
            guard let (kind, token, counter) = NodePipeDatagram.header(bytes) else {
                count("node-pipe-malformed")
                return nil
            }
            guard let pipe = nodePipes[token] else {
                count("node-pipe-unknown")
                return nil
            }
            guard kind.fromOrigin != pipe.isOrigin else {
                count("node-pipe-misdirected")
                return nil
            }
            guard pipe.isFresh(counter) else {
                count("node-pipe-replay")
                return nil
            }
            return (kind, counter, pipe)
        }
        guard let (kind, counter, pipe) = checked else { return [] }
        let id = pipe.publication
        if kind == .media {
            // The data path: opened in place in one copy of its own, which the mirror keeps.
            guard let (kind, layer, packet) = NodePipeDatagram.openMedia(buffer, counter: counter, with: pipe.cipher, allocator: allocator) else {
                count("node-pipe-forged")
                return []
            }
            pipe.accept(counter, now: now)
            guard let mirror = publications[id], mirror.mirrorToken == pipe.token else {
                count("node-pipe-without-mirror")
                return []
            }
            guard let header = packet.withUnsafeReadableBytes({ try? RTPHeaderView($0) }) else {
                count("node-pipe-malformed")
                return []
            }
            return mirror.receive(packet, header: header, kind: kind, now: now, allocator: allocator, drops: drops, owned: true, layer: layer)
        }
        guard let datagram = buffer.withUnsafeReadableBytes({ NodePipeDatagram.open($0, with: pipe.cipher) }) else {
            count("node-pipe-forged")
            return []
        }
        pipe.accept(counter, now: now)
        let started = pipe.confirmed ? [] : confirm(pipe, now: now)
        switch datagram.kind {
        case .media:
            return []  // handled above
        case .ended:
            nodePipes[pipe.token] = nil
            mirrorEnded(id: id, token: pipe.token)
            return []
        case .originAlive, .mirrorAlive:
            return started
        case .keyFrame:
            guard let layer = datagram.keyFrameLayer else { return started }
            return started + pipedKeyFrameRequest(for: id, layer: layer, now: now)
        case .nack:
            guard let (kind, lost) = datagram.nack, !lost.isEmpty else { return started }
            return started + pipedNACK(for: id, lost: lost, kind: kind)
        case .detach:
            nodePipes[pipe.token] = nil
            if let out = pipe.pipeOut { detachPipe(from: id, worker: out.worker, token: pipe.token) }
            return []
        }
    }

    /// Once a second: each end tells the other it is there; an end not heard from for
    /// ``NodePipe/timeout`` goes — the origin stops piping, a mirror ends as if its publisher had
    /// left (a broadcast's viewers here wait for the next one).
    func keepNodePipes(now: MediaTime) {
        for pipe in Array(nodePipes.values) {
            guard now - pipe.lastHeard < NodePipe.timeout else {
                count("node-pipe-timeout")
                nodePipes[pipe.token] = nil
                if let out = pipe.pipeOut {
                    detachPipe(from: pipe.publication, worker: out.worker, token: pipe.token)
                } else {
                    mirrorEnded(id: pipe.publication, token: pipe.token)
                }
                continue
            }
            // An origin not yet heard from sends nothing (``NodePipe/confirmed``).
            if pipe.confirmed, let d = pipe.datagram(pipe.isOrigin ? .originAlive : .mirrorAlive) { nodeOutbox.append(d) }
        }
    }

    /// Rooms whose broadcast viewers here wait for a next publisher while nothing is published
    /// in them here: the server asks the room's node, when that is another one.
    func roomsAwaitingNodePublisher() -> Set<String> {
        Set(orphans.keys.filter { hasOrphans(in: $0) && publishers[$0] == nil })
    }

    /// What node pipes queued since it was last taken.
    func takeNodeOutbox() -> [OutgoingDatagram] {
        guard !nodeOutbox.isEmpty else { return [] }
        defer { nodeOutbox = [] }
        return nodeOutbox
    }
}

extension PeerAddress {
    /// An IP literal and port (no name is resolved: nothing on the media path waits for DNS).
    init?(host: String, port: Int) {
        guard (1...65_535).contains(port), let address = try? SocketAddress(ipAddress: host, port: port) else { return nil }
        self.init(address)
    }
}
