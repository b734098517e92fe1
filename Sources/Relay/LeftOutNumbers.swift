/// The numbers of a stream that were left out of what a subscriber gets (input sequence numbers
/// for ``StreamRewriter``, VP8 picture IDs for ``VP8PictureIDRewriter``), counted modulo
/// `mask + 1`, oldest first, all within `reach` of the newest number seen: a late packet's number
/// goes up by how many were left out after it. Forgotten as the stream advances — an entry kept
/// past half the number space would read as newer after the wrap — and counted by binary search,
/// so a hostile stream of late packets costs a few comparisons each. At most `reach` entries.
struct LeftOutNumbers {
    private var numbers: [UInt16] = []

    /// `number`, newer than any before, was left out.
    mutating func append(_ number: UInt16) { numbers.append(number) }

    /// The newest number is now `newest`: what is `reach` or more behind it is forgotten.
    mutating func advance(to newest: UInt16, mask: UInt16, reach: UInt16) {
        var stale = 0
        while stale < numbers.count, (newest &- numbers[stale]) & mask >= reach { stale += 1 }
        if stale > 0 { numbers.removeFirst(stale) }
    }

    /// How many left-out numbers are newer than `number` (both within reach of `newest`).
    func count(after number: UInt16, newest: UInt16, mask: UInt16) -> Int {
        let behind = (newest &- number) & mask
        var low = 0, high = numbers.count
        while low < high {  // the first entry nearer the newest than `number` is
            let mid = (low + high) / 2
            if (newest &- numbers[mid]) & mask < behind { high = mid } else { low = mid + 1 }
        }
        return numbers.count - low
    }

    mutating func removeAll() { numbers.removeAll(keepingCapacity: true) }
}
