import Foundation
import ShowroomServer
import ShowroomTestSupport
import Synchronization
import Testing

/// Issue 15, must-have 6: a node of a cluster on PostgreSQL killed with SIGKILL mid-run. Its
/// `/ws` clients reconnect to another node and resume there; nothing acknowledged is lost or
/// doubled, on either node.
@Suite(.serialized) struct ClusterFailoverTests {
    /// Node A is the real `showroom` executable, node B a server in this process, both on one
    /// database. Six clients share a room, three entering on A and three on B, each sending 40
    /// messages while cutting its connection at random and resuming (ChaosTests' client). Once
    /// half the messages are acknowledged, A is killed — no goodbye, its transactions cut — and its
    /// clients, refused there, go to B with the last seq they had and send again what was never
    /// acknowledged. Every client ends with 1…240, each once and in order, and the acknowledged
    /// seqs are 1…240, each once.
    @Test func aNodeKilledMidRunLosesAndDoublesNoAcknowledgedMessage() async throws {
        let url = try await PostgresTestCluster.shared().freshDatabase()
        let a = try KilledServer(arguments: ["--database", url])
        defer { try? FileManager.default.removeItem(atPath: a.dataDirectory) }
        try await a.start()
        let b = try await SignalingServer.start(configure: { $0.databaseURL = url })
        let (portA, portB) = (a.port.withLock { $0 }, b.port)
        let clients = 6, perClient = 40, total = clients * perClient
        let authority = await TokenAuthority(secret: testSecret)
        let progress = ChaosTests.Progress()

        let reports = try await withThrowingTaskGroup(of: ChaosTests.Report.self) { group in
            for i in 0..<clients {
                let token = try await authority.mint(identity: "client-\(i)", room: "chaos", role: .shopper, ttl: 600)
                let nodes = i % 2 == 0 ? [portA, portB] : [portB, portA]
                group.addTask {
                    try await ChaosTests.client(i, token: token, perClient: perClient, total: total, nodes: { nodes }, progress: progress)
                }
            }
            group.addTask {
                while progress.acked.load(ordering: .relaxed) < total / 2 { try await Task.sleep(for: .milliseconds(10)) }
                await a.stop()
                progress.restarted.store(true, ordering: .relaxed)
                return ChaosTests.Report(client: -1, acked: [:], received: [], reconnects: 0)
            }
            var all: [ChaosTests.Report] = []
            for try await r in group where r.client >= 0 { all.append(r) }
            return all
        }
        let killed = progress.restarted.load(ordering: .relaxed)
        #expect(killed, "node A was killed")
        let ackedSeqs = reports.flatMap(\.acked.values).sorted()
        #expect(ackedSeqs == Array(1...Int64(total)), "acknowledged seqs: \(ackedSeqs.count), \(Set(ackedSeqs).count) distinct")
        for r in reports {
            #expect(r.acked.count == perClient, "client \(r.client) acked \(r.acked.count)")
            #expect(r.received == Array(1...Int64(total)), "client \(r.client): \(r.received.count) received, \(Set(r.received).count) distinct")
        }
        print("cluster failover: \(clients) clients × \(perClient) messages on two nodes, node A killed (SIGKILL) at half; reconnects \(reports.map(\.reconnects)); 0 lost, 0 duplicated")
        _ = await b.stop()
    }
}
