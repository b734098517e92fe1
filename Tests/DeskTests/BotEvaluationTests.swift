import Desk
import Foundation
import Testing

/// Answer-vs-hand-off quality of the bot on the sample FAQ, through ``BotTriage`` as a shopper's
/// first message meets it: "answer" is the positive class.
/// - precision: of the questions the bot answered, the share it answered with the right entry
///   (an answer to a question no entry answers, or with the wrong entry, counts against it);
/// - recall: of the questions an entry answers, the share the bot answered with that entry.
/// The figures and how the threshold was chosen are in docs/desk.md, "Bot".
@Suite struct BotEvaluationTests {
    struct Score: CustomStringConvertible {
        var answered = 0, correct = 0, answerable = 0, handedOff = 0, rightlyHandedOff = 0
        var mistakes: [String] = []
        var precision: Double { answered == 0 ? 1 : Double(correct) / Double(answered) }
        var recall: Double { answerable == 0 ? 1 : Double(correct) / Double(answerable) }
        var description: String {
            String(
                format: "%d questions: precision %.3f (%d/%d), recall %.3f (%d/%d), hand-offs %d (%d right)",
                answered + handedOff, precision, correct, answered, recall, correct, answerable, handedOff, rightlyHandedOff)
        }
    }

    static func score(_ questions: [LabelledQuestion], configuration: BotTriage.Configuration = .init()) -> Score {
        var s = Score()
        for q in questions {
            var bot = BotTriage(index: Sample.index, locale: q.locale, department: q.department, configuration: configuration)
            if q.expected != nil { s.answerable += 1 }
            switch bot.receive(q.text, at: Date(timeIntervalSince1970: 0)) {
            case .reply(_, let source):
                s.answered += 1
                if case .faq(let id, _) = source, id == q.expected {
                    s.correct += 1
                } else {
                    s.mistakes.append("answered \(source): \(q)")
                }
            case .handOff:
                s.handedOff += 1
                if q.expected == nil { s.rightlyHandedOff += 1 } else { s.mistakes.append("handed off: \(q)") }
            case .lookUpOrder:
                s.mistakes.append("looked up an order: \(q)")
            }
        }
        return s
    }

    @Test func theLabelledSetHasEnoughOfEachKind() {
        #expect(labelledQuestions.count >= 60)
        for locale in ["en", "de"] {
            #expect(labelledQuestions.filter { $0.locale == locale && $0.expected != nil }.count >= 20)
            #expect(labelledQuestions.filter { $0.locale == locale && $0.expected == nil }.count >= 10)
        }
        let ids = Set(Sample.index.entries.map(\.id))
        #expect((labelledQuestions + heldOutQuestions).allSatisfy { $0.expected.map(ids.contains) ?? true })
    }

    /// The set the threshold was first chosen on.
    @Test func precisionAndRecallOnTheLabelledSet() {
        let s = Self.score(labelledQuestions)
        print("bot, labelled set:", s, s.mistakes)
        #expect(s.precision >= 0.95, "\(s.mistakes)")
        #expect(s.recall >= 0.95, "\(s.mistakes)")
    }

    /// Questions written after the threshold was first fixed (see ``heldOutQuestions`` for what
    /// was changed after their first run): the closer-to-honest figure.
    @Test func precisionAndRecallOnHeldOutQuestions() {
        let s = Self.score(heldOutQuestions)
        print("bot, held-out set:", s, s.mistakes)
        #expect(s.precision >= 0.70, "\(s.mistakes)")
        #expect(s.recall >= 0.85, "\(s.mistakes)")
    }

    /// The trade-off around the chosen threshold, printed for docs/desk.md.
    @Test func thresholdSweep() {
        var lines: [String] = []
        for minimumScore in [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0] {
            var c = BotTriage.Configuration()
            c.minimumScore = minimumScore
            let s = Self.score(labelledQuestions + heldOutQuestions, configuration: c)
            lines.append(String(format: "score ≥ %.1f: precision %.3f recall %.3f", minimumScore, s.precision, s.recall))
        }
        print("bot, both sets, coverage ≥ 0.2, runner-up < 0.8:\n" + lines.joined(separator: "\n"))
        // Raising the floor never lowers precision much nor raises recall.
        let low = Self.score(labelledQuestions + heldOutQuestions, configuration: { var c = BotTriage.Configuration(); c.minimumScore = 2; return c }())
        let high = Self.score(labelledQuestions + heldOutQuestions, configuration: { var c = BotTriage.Configuration(); c.minimumScore = 6; return c }())
        #expect(high.recall <= low.recall && high.precision >= low.precision)
    }
}
