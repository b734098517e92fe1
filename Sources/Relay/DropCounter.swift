/// Datagrams and packets the relay did not take or could not send, by reason (label-sized
/// strings, shown on `/metrics` as `showroom_relay_dropped_total{reason}`). One per relay, shared
/// by its sessions, publications and subscriptions on the relay's loop.
final class DropCounter {
    private(set) var counts: [String: Int] = [:]

    func count(_ reason: String, _ n: Int = 1) { counts[reason, default: 0] += n }
}
