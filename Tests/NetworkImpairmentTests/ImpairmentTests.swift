import Foundation
import NetworkImpairment
import ShowroomTestSupport
import Testing

@Suite struct ImpairmentTests {
    /// Sends `count` packets of `size` bytes every `interval` µs and returns the fates.
    static func run(_ profile: ImpairmentProfile, count: Int = 100_000, size: Int = 1_000, interval: Int64 = 1_000, seed: UInt64 = 1)
        -> (Impairment, [[Int64]])
    {
        var imp = Impairment(profile: profile, seed: seed)
        var fates: [[Int64]] = []
        fates.reserveCapacity(count)
        for i in 0..<count { fates.append(imp.process(size: size, now: Int64(i) * interval)) }
        return (imp, fates)
    }

    @Test func delayAndJitterHaveTheAskedShape() {
        var p = ImpairmentProfile()
        p.delayMilliseconds = 30
        p.jitterMilliseconds = 10
        let (_, fates) = Self.run(p)
        let delays = fates.enumerated().map { Double($1[0] - Int64($0) * 1_000) / 1_000 }
        let mean = delays.reduce(0, +) / Double(delays.count)
        let sd = (delays.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(delays.count)).squareRoot()
        #expect(abs(mean - 30) < 0.3, "mean \(mean)")
        #expect(abs(sd - 10) < 0.5, "sd \(sd)")
        #expect(delays.allSatisfy { $0 >= 0 })
        var u = p
        u.jitterDistribution = .uniform
        let (_, uniform) = Self.run(u)
        let ud = uniform.enumerated().map { Double($1[0] - Int64($0) * 1_000) / 1_000 }
        #expect(ud.min()! >= 20 && ud.max()! <= 40)
    }

    @Test func randomLossHasTheAskedRate() {
        var p = ImpairmentProfile()
        p.loss = 0.02
        let (imp, fates) = Self.run(p)
        let lost = fates.filter(\.isEmpty).count
        #expect(abs(Double(lost) / 100_000 - 0.02) < 0.002)
        #expect(imp.statistics.randomLoss == lost)
    }

    @Test func burstLossComesInBurstsOfTheAskedLength() {
        var p = ImpairmentProfile()
        p.burstLoss = .init(goodToBad: 0.01, badToGood: 0.25)  // mean burst 4 packets, ~3.8% loss
        let (_, fates) = Self.run(p)
        var bursts: [Int] = [], run = 0
        for f in fates {
            if f.isEmpty { run += 1 } else if run > 0 { bursts.append(run); run = 0 }
        }
        let meanBurst = Double(bursts.reduce(0, +)) / Double(bursts.count)
        let loss = Double(fates.filter(\.isEmpty).count) / Double(fates.count)
        #expect(abs(meanBurst - 4) < 0.4, "mean burst \(meanBurst)")
        #expect(abs(loss - p.burstLoss!.meanLoss) < 0.005, "loss \(loss) vs \(p.burstLoss!.meanLoss)")
        // Random loss at the same rate has far shorter runs.
        var r = ImpairmentProfile()
        r.loss = loss
        let (_, random) = Self.run(r)
        var randomBursts: [Int] = []
        run = 0
        for f in random { if f.isEmpty { run += 1 } else if run > 0 { randomBursts.append(run); run = 0 } }
        #expect(Double(randomBursts.reduce(0, +)) / Double(randomBursts.count) < 1.2)
    }

    @Test func reorderingAndDuplicationHappenAtTheirRates() {
        var p = ImpairmentProfile()
        p.delayMilliseconds = 10
        p.reorder = 0.01
        p.reorderMilliseconds = 20
        p.duplicate = 0.005
        let (imp, fates) = Self.run(p)
        // Packets every 1 ms with a constant 10 ms delay: only the held-back ones arrive out of order.
        let arrivals = fates.map { $0[0] }
        #expect(arrivals != arrivals.sorted())
        let late = fates.enumerated().filter { $1[0] - Int64($0) * 1_000 > 15_000 }.count
        #expect(abs(Double(late) / 100_000 - 0.01) < 0.002)
        #expect(imp.statistics.reordered == late)
        let dups = fates.filter { $0.count == 2 }.count
        #expect(abs(Double(dups) / 100_000 - 0.005) < 0.0015)
    }

    @Test func bandwidthCapLimitsThroughputAndDropsTheExcess() {
        var p = ImpairmentProfile()
        p.rateKilobits = 300
        p.queueMilliseconds = 200
        // Offer 1000-byte packets at 8 Mbit/s (1 per ms) for 10 s against a 300 kbit/s cap.
        let (imp, fates) = Self.run(p, count: 10_000)
        let delivered = fates.filter { !$0.isEmpty }
        let kbps = Double(delivered.count * 8_000) / 10.0 / 1_000
        #expect(abs(kbps - 300) < 20, "\(kbps) kbit/s through a 300 kbit/s cap")
        #expect(imp.statistics.queueDrops > 9_000)
        // Nothing waits longer than the queue allows plus one packet's serialization.
        let maxWait = fates.enumerated().compactMap { i, f in f.first.map { Double($0 - Int64(i) * 1_000) / 1_000 } }.max() ?? 0
        #expect(maxWait <= 200 + 27, "waited \(maxWait) ms")
    }

    @Test func sameSeedSameFates() {
        var p = ImpairmentProfile()
        p.delayMilliseconds = 30
        p.jitterMilliseconds = 10
        p.loss = 0.05
        p.duplicate = 0.01
        #expect(Self.run(p, count: 5_000, seed: 9).1 == Self.run(p, count: 5_000, seed: 9).1)
        #expect(Self.run(p, count: 5_000, seed: 9).1 != Self.run(p, count: 5_000, seed: 10).1)
    }
}

/// The real executable on loopback: 200 packets from a client to a server through it, each
/// delayed at least the configured delay, about the asked share lost.
@Suite struct NetSimCommandTests {
    @Test func relaysWithDelayAndLossBothWays() async throws {
        let executable = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/showroom-netsim").path
        try #require(FileManager.default.isExecutableFile(atPath: executable), "build first")
        let server = try UDPSocket()
        let client = try UDPSocket()
        let listenPort = try UDPSocket().port
        let netsim = try Subprocess(executable, ["--listen", "127.0.0.1:\(listenPort)", "--forward", "127.0.0.1:\(server.port)",
                                                  "--delay", "20", "--loss", "10", "--seed", "3", "--duration", "30"])
        _ = netsim
        // Readiness: send probes until one reaches the server (bounded).
        var ready = false
        for i in 0..<100 where !ready {
            client.send([0xFF, UInt8(i)], toPort: listenPort)
            if server.receive(timeout: 0.1) != nil { ready = true }
        }
        try #require(ready, "netsim did not start")
        while server.receive(timeout: 0.2) != nil {}
        var sentAt: [UInt8: Date] = [:]
        var delays: [Double] = []
        for i in 0..<200 {
            let id = UInt8(i)
            sentAt[id] = Date()
            client.send([id], toPort: listenPort)
            if let got = server.receive(timeout: 0.005), let first = got.first, let t = sentAt[first] { delays.append(Date().timeIntervalSince(t) * 1_000) }
        }
        while let got = server.receive(timeout: 0.3), let first = got.first, let t = sentAt[first] { delays.append(Date().timeIntervalSince(t) * 1_000) }
        #expect(delays.allSatisfy { $0 >= 19.5 }, "a packet came through in \(delays.min() ?? 0) ms")
        #expect(delays.count > 150 && delays.count < 200, "\(delays.count) of 200 arrived with 10% loss")
    }
}
