import Synchronization

/// The rooms that hold an open consultation, shared between the desk's actor (which keeps it
/// current) and the rooms' observer (which reads it on every stored message, without the actor):
/// only these rooms' messages go to the desk and agent assist. Also counts the messages the desk
/// could not take because it was ``DeskService/maximumUnreadMessages`` behind.
public final class ConsultationRooms: Sendable {
    private let rooms = Mutex<Set<String>>([])
    /// Messages dropped on their way to the desk (`showroom_desk_messages_dropped_total`).
    let dropped = Atomic<Int>(0)

    init() {}

    func set(_ names: some Sequence<String>) {
        let next = Set(names)
        rooms.withLock { $0 = next }
    }

    public func contains(_ room: String) -> Bool { rooms.withLock { $0.contains(room) } }
}
