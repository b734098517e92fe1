import Assist
import Foundation
import Testing

/// A department's guided flow and a consultation's progress through it.
@Suite struct GuidedFlowTests {
    let flow = GuidedFlow(
        department: "sales", title: "Sales",
        steps: ["greet", "needs", "recommend", "offer", "close"].map { FlowStep(id: $0, title: $0.capitalized, guidance: "Do \($0)") })
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func advancingWalksTheStepsAndCompletes() {
        var p = FlowProgress(consultation: "c1", flow: flow, now: t0)
        #expect(p.currentStep(in: flow)?.id == "greet")
        for i in 1...4 { p.advance(now: t0 + Double(i)) }
        #expect(p.currentStepID == "close")
        #expect(!p.completed)
        p.advance(now: t0 + 10)
        #expect(p.completed)
        #expect(p.completedAt == t0 + 10)
        p.advance(now: t0 + 11)
        #expect(p.currentStepID == "close")
        #expect(p.reached["recommend"] == t0 + 2)
    }

    @Test func backAndJumpReopen() throws {
        var p = FlowProgress(consultation: "c1", flow: flow, now: t0)
        p.back(now: t0)
        #expect(p.current == 0)
        try p.jump(to: 4, now: t0 + 1)
        p.advance(now: t0 + 2)
        #expect(p.completed)
        p.back(now: t0 + 3)
        #expect(!p.completed)
        #expect(p.currentStepID == "close")
        try p.jump(toStep: "needs", now: t0 + 4)
        #expect(p.current == 1)
        #expect(throws: AssistError(.invalidArgument, "")) { try p.jump(to: 5, now: t0) }
        #expect(throws: AssistError(.notFound, "")) { try p.jump(toStep: "nope", now: t0) }
    }

    @Test func anEditedFlowKeepsTheCurrentStepByID() throws {
        var p = FlowProgress(consultation: "c1", flow: flow, now: t0)
        try p.jump(toStep: "offer", now: t0)
        var edited = flow
        edited.steps.remove(at: 1)
        #expect(p.reconciled(with: edited, now: t0).currentStepID == "offer")
        edited.steps.removeAll { $0.id == "offer" }
        #expect(p.reconciled(with: edited, now: t0).current == 2)
    }

    @Test func validation() {
        #expect(throws: Never.self) { try flow.validate() }
        var dup = flow
        dup.steps.append(FlowStep(id: "greet", title: "Again"))
        #expect(throws: AssistError(.conflict, "")) { try dup.validate() }
        var long = flow
        long.steps = (0..<21).map { FlowStep(id: "s\($0)", title: "S") }
        #expect(throws: AssistError(.invalidArgument, "")) { try long.validate() }
        let missing = GuidedFlow(department: "sales", title: "S", steps: [FlowStep(id: "a", title: "A", scripts: ["hi"])])
        #expect(throws: AssistError(.notFound, "")) { try missing.validate(shortCodes: ["other"]) }
    }

    @Test func progressRoundTripsThroughJSON() throws {
        var p = FlowProgress(consultation: "c1", flow: flow, now: t0)
        p.advance(now: t0 + 5)
        let back = try JSONDecoder().decode(FlowProgress.self, from: JSONEncoder().encode(p))
        #expect(back == p)
    }
}
