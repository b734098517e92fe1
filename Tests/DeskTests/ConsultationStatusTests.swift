import Desk
import Testing

@Suite struct ConsultationStatusTests {
    /// The drawn state machine, edge by edge: every allowed move, and that nothing else is.
    @Test func onlyTheDrawnMovesAreAllowed() {
        let allowed: Set<String> = [
            "bot>queued", "bot>resolved", "bot>abandoned",
            "queued>offered", "queued>active", "queued>missed", "queued>abandoned",
            "offered>active", "offered>queued", "offered>abandoned",
            "active>on_hold", "active>queued", "active>resolved", "active>active",
            "on_hold>active", "on_hold>queued", "on_hold>resolved",
            "missed>active", "missed>resolved",
        ]
        for from in ConsultationStatus.allCases {
            for to in ConsultationStatus.allCases {
                #expect(from.canMove(to: to) == allowed.contains("\(from.rawValue)>\(to.rawValue)"), "\(from) → \(to)")
            }
        }
        for s in ConsultationStatus.allCases where s.isFinal {
            #expect(ConsultationStatus.allCases.allSatisfy { !s.canMove(to: $0) })
        }
    }
}
