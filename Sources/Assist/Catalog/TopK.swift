/// The `capacity` best items by score (higher first, then the smaller tie-break string), kept in
/// a min-heap so selecting from n items costs O(n log capacity). Deterministic.
struct TopK<Item> {
    private var heap: [(item: Item, score: Double, tieBreak: String)] = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        heap.reserveCapacity(capacity)
    }

    var count: Int { heap.count }

    /// Whether an item with this score could enter (cheap: lets a scan skip the item's details).
    func mayAccept(_ score: Double) -> Bool { heap.count < capacity || (capacity > 0 && score >= heap[0].score) }

    /// Whether `a` ranks below `b` (lower score, or equal score and larger tie-break).
    private static func worse(_ a: (item: Item, score: Double, tieBreak: String), _ b: (item: Item, score: Double, tieBreak: String)) -> Bool {
        a.score != b.score ? a.score < b.score : a.tieBreak > b.tieBreak
    }

    mutating func insert(_ item: Item, score: Double, tieBreak: String) {
        guard capacity > 0 else { return }
        let entry = (item, score, tieBreak)
        if heap.count < capacity {
            heap.append(entry)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard Self.worse(heap[i], heap[parent]) else { break }
                heap.swapAt(i, parent)
                i = parent
            }
        } else if Self.worse(heap[0], entry) {
            heap[0] = entry
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, Self.worse(heap[l], heap[m]) { m = l }
                if r < heap.count, Self.worse(heap[r], heap[m]) { m = r }
                guard m != i else { break }
                heap.swapAt(i, m)
                i = m
            }
        }
    }

    /// Best first.
    func sorted() -> [Item] {
        heap.sorted { Self.worse($1, $0) }.map(\.item)
    }
}
