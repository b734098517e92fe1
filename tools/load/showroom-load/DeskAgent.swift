import Foundation
import ShowroomServer
import Synchronization
import WebRTCClient

/// One simulated agent: holds the workspace stream (`GET /api/desk/events`), accepts every offer
/// (after `acceptDelay`), and for each consultation assigned joins its room with the notice's
/// `roomToken`, answers after a think time (and each shopper message after another), and resolves
/// after its handling time. It holds at most its capacity: one room connection per consultation
/// (the server takes 16 `/ws` connections per identity) and one workspace stream (of 4).
final class DeskAgent: Sendable {
    let id: String
    let run: DeskRun
    let capacity: Int
    /// When this agent's slots freed up (resolve sent, µs), oldest first: each offer fills the
    /// oldest, and counts for the assignment latency when its consultation was waiting by then.
    private let freedAt = Mutex<[Int64]>([])
    /// Offers the desk took back: an accept refused after that is a race, not an error.
    private let withdrawn = Mutex<Set<String>>([])
    private let stopping = Atomic<Bool>(false)
    private let stream = Mutex<DeskHTTPClient.EventStream?>(nil)

    init(id: String, run: DeskRun, capacity: Int) {
        self.id = id
        self.run = run
        self.capacity = capacity
    }

    private enum Event: Sendable {
        case frame(String, Int64)
        case closed(String?)
        case timer(Timer)
        case signal(AgentSignal)
    }

    private enum Timer: Sendable { case reply, resolve, ping }

    /// The notices the agent reads; `queue` notices (the whole queue, to every agent, at every
    /// change) are only counted.
    static let notices: Set<String> = ["hello", "offer", "assigned", "ended", "revoked", "offer_withdrawn", "overdue"]

    /// Runs until ``stop()``: the workspace stream, reconnected when it drops, and the
    /// consultations held. `online` is called at the first `hello`.
    func go(online: @escaping @Sendable () -> Void) async {
        let s = run.state
        let token: String
        do {
            token = try await run.auth.mint(identity: id, room: "desk", role: .agent, ttl: 12 * 3_600)
        } catch {
            s.error("token", "\(error)")
            return
        }
        let first = Once()
        await withTaskGroup(of: Void.self) { group in
            var backoff = 0.5
            while !stopping.load(ordering: .relaxed) {
                let events: DeskHTTPClient.EventStream
                do {
                    events = try await run.http.events("/api/desk/events", token: token, keeping: Self.notices)
                } catch {
                    s.error("GET /api/desk/events", "\(error)")
                    try? await Task.sleep(for: .seconds(backoff))
                    backoff = min(backoff * 2, 10)
                    continue
                }
                stream.withLock { $0 = events }
                if stopping.load(ordering: .relaxed) { events.close() }
                for await event in events.events {
                    if event.name == "hello" {
                        backoff = 0.5
                        if first.first() { online() }
                        continue
                    }
                    notice(event, group: &group)
                }
                if !stopping.load(ordering: .relaxed) { s.error("agent stream ended", "the server ended \(id)'s workspace stream") }
            }
            await group.waitForAll()
        }
    }

    /// Closes the workspace stream (held consultations end with their shoppers).
    func stop() {
        stopping.store(true, ordering: .relaxed)
        stream.withLock { $0 }?.close()
    }

    private func notice(_ event: DeskHTTPClient.Event, group: inout TaskGroup<Void>) {
        let s = run.state
        guard Self.notices.contains(event.name) else {
            if event.name == "queue" {
                s.queueNotices.add(1, ordering: .relaxed)
                s.queueNoticeBytes.add(event.bytes, ordering: .relaxed)
            }
            return
        }
        guard let data = event.data, let notice = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] else {
            s.error("agent notice \(event.name)", "not a JSON object: \(event.data?.prefix(200) ?? "")")
            return
        }
        if event.name == "offer_withdrawn" { s.offersWithdrawn.add(1, ordering: .relaxed) }
        if event.name == "overdue" { s.overdue.add(1, ordering: .relaxed) }
        // An offer withdrawn because its consultation ended carries no consultation (it is gone).
        guard let consultation = notice["consultation"] as? [String: Any], let cid = consultation["id"] as? String else {
            if event.name == "offer" || event.name == "assigned" {
                s.error("agent notice \(event.name)", "a notice without a consultation: \(data.prefix(200))")
            }
            return
        }
        switch event.name {
        case "offer":
            s.offers.add(1, ordering: .relaxed)
            let slot = freedAt.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            if let slot {
                if let waiting = s.handedOffAt(cid), waiting < slot {
                    s.record(\.assignment, micros: event.arrived - slot, measured: s.isMeasured(cid))
                } else {
                    s.assignmentSkipped.add(1, ordering: .relaxed)
                }
            }
            group.addTask { await self.accept(cid) }
        case "assigned":
            guard let room = consultation["room"] as? String, let roomToken = notice["roomToken"] as? String else {
                s.error("agent notice assigned", "no room or roomToken in \(data.prefix(200))")
                return
            }
            if s.isOurs(cid) {
                group.addTask { await self.hold(cid, room: room, token: roomToken, assignedAt: event.arrived) }
            } else {
                // Left by an earlier run (its shopper is gone): resolved at once.
                s.leftovers.add(1, ordering: .relaxed)
                group.addTask { _ = try? await self.run.http.request(.POST, "/api/desk/consultations/\(cid)/resolve", token: self.deskToken()) }
            }
        case "ended":
            s.signalAgent(cid, .ended)
        case "revoked":
            s.revoked.add(1, ordering: .relaxed)
            s.signalAgent(cid, .revoked)
        case "offer_withdrawn":
            withdrawn.withLock { w in
                if w.count > 10_000 { w.removeAll() }
                w.insert(cid)
            }
        default:
            break
        }
    }

    private func deskToken() async throws -> String {
        try await run.auth.mint(identity: id, room: "desk", role: .agent, ttl: 3_600)
    }

    private func accept(_ cid: String) async {
        let s = run.state
        if run.scenario.acceptDelay > 0 { try? await Task.sleep(for: .seconds(run.random.around(run.scenario.acceptDelay))) }
        let sent = monotonicMicros()
        do {
            let r = try await run.http.request(.POST, "/api/desk/consultations/\(cid)/accept", token: try await deskToken())
            s.record(\.accept, micros: monotonicMicros() - sent, measured: s.isMeasured(cid))
            if r.status == 200 {
                s.accepted.add(1, ordering: .relaxed)
            } else if (r.status == 404 || r.status == 409) && (s.isEnding(cid) || withdrawn.withLock({ $0.contains(cid) })) {
                s.race("accept_after_close_or_withdrawal")
            } else {
                s.error("POST /api/desk/consultations/{id}/accept \(r.status)", r.reason)
            }
        } catch {
            s.error("POST /api/desk/consultations/{id}/accept", "\(error)")
        }
    }

    /// One consultation assigned to this agent, from joining its room to the resolve.
    private func hold(_ cid: String, room: String, token: String, assignedAt: Int64) async {
        let s = run.state, random = run.random, scenario = run.scenario
        let (events, sink) = AsyncStream<Event>.makeStream()
        guard s.attachAgent(cid, { sink.yield(.signal($0)) }) else { return }  // its shopper is already gone
        let measured = s.isMeasured(cid)
        s.agentRoom(opened: true)
        let socket = DeskRoomConnection(url: run.wsURL, token: token, handshakes: run.handshakes) { sink.yield(.frame($0, $1)) }
        let watcher = Task { sink.yield(.closed(await socket.done.value)) }
        var timers: [Task<Void, Never>] = []
        func after(_ seconds: Double, _ timer: Timer) {
            timers.append(Task {
                try? await Task.sleep(for: .seconds(seconds))
                sink.yield(.timer(timer))
            })
        }
        after(max(0, random.exponential(mean: scenario.handling) - Double(monotonicMicros() - assignedAt) / 1e6), .resolve)
        after(10, .ping)
        var joined = false, firstSent = false, replyPending = false, resolveDue = false, done = false
        var sent = 0
        func send(_ text: String) {
            sent += 1
            socket.send(#"{"type":"send","id":"a\#(sent)","kind":"text","text":\#(jsonString(text))}"#)
        }
        func resolve() async {
            freedAt.withLock { f in
                f.append(monotonicMicros())
                if f.count > capacity { f.removeFirst(f.count - capacity) }
            }
            let sentAt = monotonicMicros()
            do {
                let r = try await run.http.request(.POST, "/api/desk/consultations/\(cid)/resolve", token: try await deskToken())
                s.record(\.resolve, micros: monotonicMicros() - sentAt, measured: measured)
                if r.status == 200 {
                    if s.finish(cid, .resolved) { s.signalShopper(cid, .resolved) }
                } else if (r.status == 404 || r.status == 409) && s.isEnding(cid) {
                    s.race("resolve_after_close")
                } else {
                    s.error("POST /api/desk/consultations/{id}/resolve \(r.status)", r.reason)
                }
            } catch {
                s.error("POST /api/desk/consultations/{id}/resolve", "\(error)")
            }
            done = true
        }

        for await event in events {
            switch event {
            case .frame(let text, let at):
                guard let frame = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { continue }
                switch frame["type"] as? String {
                case "welcome":
                    socket.send(#"{"type":"join","room":"\#(room)"}"#)
                case "joined":
                    joined = true
                    s.record(\.agentJoin, micros: at - assignedAt, measured: measured)
                    replyPending = true
                    after(random.around(scenario.think), .reply)
                case "message":
                    guard frame["role"] as? String == "shopper", let body = frame["text"] as? String, let t = stamp(of: body) else { continue }
                    s.record(\.chatToAgent, micros: at - t, measured: measured)
                    if joined, !replyPending {
                        replyPending = true
                        after(random.around(scenario.think), .reply)
                    }
                case "error", "closing":
                    let code = frame["code"] as? String ?? "unknown", reason = frame["reason"] as? String ?? ""
                    s.error("ws agent \(frame["type"] as? String ?? "") \(code)", "\(code): \(reason)")
                default:
                    break
                }
            case .timer(.reply):
                replyPending = false
                guard !done else { break }
                send(stamped(firstSent ? "It does — shall I put one aside for you?" : "Hello, this is \(id). How can I help?"))
                if !firstSent, resolveDue { after(random.around(scenario.think), .resolve) }
                firstSent = true
            case .timer(.resolve):
                // Not before the first answer (a consultation resolved unanswered measures nothing),
                // and then a think time after it, as a person would.
                if firstSent, !done { await resolve() } else { resolveDue = true }
            case .timer(.ping):
                socket.send(#"{"type":"ping"}"#)
                after(10, .ping)
            case .signal:
                done = true
            case .closed(let reason):
                if !done { s.error("ws agent closed", reason ?? "closed") }
                done = true
            }
            if done { break }
        }
        socket.finish()
        for t in timers { t.cancel() }
        _ = await socket.done.value
        watcher.cancel()
        sink.finish()
        s.agentRoom(opened: false)
    }
}
