import Synchronization

/// One room's chat operations, one at a time and in arrival order: what makes "append, then
/// broadcast" one step for the room (every member sees its messages in seq order) while the
/// store call in between runs on a ``StoreThreads`` thread. At most `maximumWaiting` wait; past
/// that ``enter()`` refuses at once, so a stalled store cannot make a room queue without bound.
/// A task cancelled while waiting (its connection was closed) leaves the line.
final class RoomGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }

    private struct Full: Error {}
    private let state = Mutex(State())
    let maximumWaiting: Int

    init(maximumWaiting: Int) { self.maximumWaiting = maximumWaiting }

    enum Entry: Sendable, Equatable {
        /// The room's turn: call ``leave()`` when done.
        case entered
        /// `maximumWaiting` wait already: refused at once.
        case full
        /// The task was cancelled while waiting (its connection is closing).
        case cancelled
    }

    /// Waits for the room's turn, in arrival order.
    func enter() async -> Entry {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    enum Now { case go, full, cancelled, wait }
                    let now = state.withLock { s -> Now in
                        if Task.isCancelled { return .cancelled }
                        if !s.busy {
                            s.busy = true
                            return .go
                        }
                        guard s.waiters.count < maximumWaiting else { return .full }
                        s.waiters.append((id, c))
                        return .wait
                    }
                    switch now {
                    case .go: c.resume()
                    case .full: c.resume(throwing: Full())
                    case .cancelled: c.resume(throwing: CancellationError())
                    case .wait: break
                    }
                }
            } onCancel: {
                let c = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                    guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return s.waiters.remove(at: i).continuation
                }
                c?.resume(throwing: CancellationError())
            }
        } catch is Full {
            return .full
        } catch {
            return .cancelled
        }
        return .entered
    }

    /// Ends the turn: the next in line (if any) goes.
    func leave() {
        let next = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            guard !s.waiters.isEmpty else {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    var waiting: Int { state.withLock { $0.waiters.count } }
}
