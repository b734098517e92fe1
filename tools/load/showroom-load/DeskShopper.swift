import Foundation
import ShowroomServer
import WebRTCClient

/// What a desk run shares: the server's address and API client, the secret to mint tokens, the
/// scenario, the state everyone reports into.
struct DeskRun: Sendable {
    struct Scenario: Sendable {
        var botShare: Double
        /// Mean seconds an agent takes before each reply (and before the first).
        var think: Double
        /// Mean seconds a shopper takes before answering an agent.
        var shopperThink: Double
        /// Mean seconds an agent holds a consultation, from `assigned` to `resolve` (exponential).
        var handling: Double
        /// Seconds a shopper waits after the hand-off for an agent's first message before closing.
        var patience: Double
        /// Seconds a shopper the bot answered reads before closing the chat.
        var read: Double
        /// Seconds an agent takes to accept an offer.
        var acceptDelay: Double
        var maximumOpen: Int
    }

    /// A question from the sample FAQ, asked in its language to its department.
    struct Question: Sendable {
        var text: String
        var department: String
        var locale: String
    }

    let http: DeskHTTPClient
    let auth: TokenAuthority
    let wsURL: String
    let state: DeskLoadState
    let random: DeskRandom
    let scenario: Scenario
    let questions: [Question]
    let handshakes: AsyncLimiter

    /// What a person-seeking shopper writes first (the bot's `asked_for_person` intent).
    static let askForPerson = "I'd like to talk to a person, please."
}

/// One shopper: opens a consultation (`POST /api/consultations`), joins its room, and either asks
/// the bot an FAQ question (and closes the chat after reading the answer) or asks for a person —
/// then waits for an agent at most `patience` seconds after the hand-off, chats with them, and
/// leaves when the agent resolves it.
struct DeskShopper: Sendable {
    let index: Int
    let run: DeskRun

    private enum Event: Sendable {
        case frame(String, Int64)
        case closed(String?)
        case timer(Timer)
        case signal(ShopperSignal)
    }

    private enum Timer: Sendable { case read, patience, reply, ping }

    func go() async {
        let s = run.state, random = run.random, scenario = run.scenario
        guard s.admit(maximum: scenario.maximumOpen) else {
            s.skippedAtBound.add(1, ordering: .relaxed)
            return
        }
        let identity = "load-\(s.run)-s\(index)", room = "load-\(s.run)-\(index)"
        let question = random.unit() < scenario.botShare ? random.pick(run.questions) : nil
        let department = question?.department ?? random.pick(["sales", "support"])
        let token: String
        do {
            token = try await run.auth.mint(identity: identity, room: room, role: .shopper, ttl: 3_600)
        } catch {
            s.error("token", "\(error)")
            s.unadmit()
            return
        }
        let started = monotonicMicros()
        let measured = s.measuring.load(ordering: .relaxed)
        let opened: DeskHTTPClient.Response
        do {
            opened = try await run.http.request(
                .POST, "/api/consultations", token: token,
                json: ["department": department, "name": "Shopper \(index)", "context": ["locale": question?.locale ?? "en", "sku": "LOAD-\(index % 100)"]])
        } catch {
            s.error("POST /api/consultations", "\(error)")
            s.openFailures.add(1, ordering: .relaxed)
            s.unadmit()
            return
        }
        guard opened.status == 201, let id = opened.json["id"] as? String else {
            s.error("POST /api/consultations \(opened.status)", opened.reason)
            s.openFailures.add(1, ordering: .relaxed)
            s.unadmit()
            return
        }
        s.record(\.open, micros: monotonicMicros() - started, measured: measured)
        s.created.add(1, ordering: .relaxed)

        let (events, sink) = AsyncStream<Event>.makeStream()
        s.register(id, measured: measured, shopper: { sink.yield(.signal($0)) })
        var phase = DeskPhase.withBot
        s.move(from: nil, to: phase)
        let socket = DeskRoomConnection(url: run.wsURL, token: token, handshakes: run.handshakes) { sink.yield(.frame($0, $1)) }
        let watcher = Task { sink.yield(.closed(await socket.done.value)) }
        var timers: [Task<Void, Never>] = []
        func after(_ seconds: Double, _ timer: Timer) {
            timers.append(Task {
                try? await Task.sleep(for: .seconds(seconds))
                sink.yield(.timer(timer))
            })
        }
        after(10, .ping)

        var firstSentAt: Int64?
        var handedOffAt: Int64?
        var botAnswered = false, agentJoined = false, agentAnswered = false, replyPending = false, done = false
        var sent = 0
        func send(_ text: String) {
            sent += 1
            socket.send(#"{"type":"send","id":"m\#(sent)","kind":"text","text":\#(jsonString(text))}"#)
        }
        /// The shopper closes the chat (`POST …/close`): the consultation ends with `outcome`.
        func close(_ outcome: DeskOutcome) async {
            s.shopperClosing(id)
            do {
                let r = try await run.http.request(.POST, "/api/consultations/\(id)/close", token: token)
                if r.status == 200 {
                    s.finish(id, outcome)
                } else if r.status == 404, s.isEnding(id) {
                    s.race("close_after_resolve")  // its agent resolved it first
                } else {
                    s.error("POST /api/consultations/{id}/close \(r.status)", r.reason)
                }
            } catch {
                s.error("POST /api/consultations/{id}/close", "\(error)")
            }
            done = true
        }
        func handOff(at: Int64) {
            guard handedOffAt == nil else { return }
            handedOffAt = at
            s.handedOff(id, at: at)
            if question == nil, let firstSentAt { s.record(\.handOff, micros: at - firstSentAt, measured: measured) }
            s.move(from: phase, to: .queued)
            phase = .queued
            after(scenario.patience, .patience)
        }

        for await event in events {
            switch event {
            case .frame(let text, let at):
                guard let frame = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { continue }
                switch frame["type"] as? String {
                case "welcome":
                    socket.send(#"{"type":"join","room":"\#(room)"}"#)
                case "joined":
                    s.record(\.join, micros: at - started, measured: measured)
                    firstSentAt = monotonicMicros()
                    send(question?.text ?? DeskRun.askForPerson)
                case "message":
                    let role = frame["role"] as? String, body = frame["text"] as? String ?? ""
                    if role == "bot", question != nil, !botAnswered, handedOffAt == nil {
                        botAnswered = true
                        if let firstSentAt { s.record(\.botFirstReply, micros: at - firstSentAt, measured: measured) }
                        after(random.around(scenario.read), .read)
                    } else if role == "system" {
                        // "Connecting you with a person." (or, outside business hours, "…you're in the queue…"),
                        // then "You're number N in the queue." whenever the place changes.
                        if body.contains("Connecting you with a person") || body.contains("you're in the queue") {
                            handOff(at: at)
                        } else if body.hasPrefix("You're number") {
                            s.positionMessages.add(1, ordering: .relaxed)
                            handOff(at: at)
                        } else if body.hasSuffix("has joined the chat."), let handedOffAt, !agentJoined {
                            // The desk's line when an agent accepted: the queue and the assignment,
                            // without the agent's think time.
                            agentJoined = true
                            s.record(\.queueToAssigned, micros: at - handedOffAt, measured: measured)
                        }
                    } else if role == "agent" {
                        if !agentAnswered {
                            agentAnswered = true
                            if let handedOffAt { s.record(\.queueWait, micros: at - handedOffAt, measured: measured) }
                            if let firstSentAt { s.record(\.firstResponse, micros: at - firstSentAt, measured: measured) }
                            s.move(from: phase, to: .withAgent)
                            phase = .withAgent
                        }
                        if let t = stamp(of: body) { s.record(\.chatToShopper, micros: at - t, measured: measured) }
                        if !replyPending {
                            replyPending = true
                            after(random.around(scenario.shopperThink), .reply)
                        }
                    }
                case "error", "closing":
                    let code = frame["code"] as? String ?? "unknown", reason = frame["reason"] as? String ?? ""
                    s.error("ws shopper \(frame["type"] as? String ?? "") \(code)", "\(code): \(reason)")
                default:
                    break  // ack, presence, typing, read, pong
                }
            case .timer(.read):
                if phase == .withBot, !done { await close(.botOnly) }
            case .timer(.patience):
                if !agentAnswered, !done { await close(.abandoned) }
            case .timer(.reply):
                replyPending = false
                if !done { send(stamped("Thanks — and does it come in blue?")) }
            case .timer(.ping):
                socket.send(#"{"type":"ping"}"#)
                after(10, .ping)
            case .signal(.resolved):
                done = true
            case .signal(.endOfRun):
                if !done { await close(.closedAtEnd) }
            case .closed(let reason):
                if !done {
                    s.error("ws shopper closed", reason ?? "closed")
                    await close(.failed)
                }
                done = true
            }
            if done { break }
        }
        socket.finish()
        for t in timers { t.cancel() }
        _ = await socket.done.value
        watcher.cancel()
        sink.finish()
        s.move(from: phase, to: nil)
        s.remove(id)
    }
}
