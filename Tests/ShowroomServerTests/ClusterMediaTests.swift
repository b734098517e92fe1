import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Relay
@testable import ShowroomServer
import ShowroomTestSupport
import Testing

/// Media between nodes (docs/cluster.md, "Media between nodes"): a broadcast published on one
/// node of three is watched from all three, each viewer served by the node it asked, the
/// publisher's node sending one stream to each other node — not one per viewer — which fans it
/// out to its own viewers.
@Suite(.serialized) struct ClusterMediaTests {
    @Test func aBroadcastIsWatchedFromThreeNodesWithOneStreamPerNode() async throws {
        let url = try await PostgresTestCluster.shared().freshDatabase()
        let nodes = [try await ClusterPlacementTests.node(url), try await ClusterPlacementTests.node(url), try await ClusterPlacementTests.node(url)]
        defer { Task { for n in nodes { _ = await n.stop() } } }
        let registry = try ClusterPlacementTests.registry(url)
        #expect(await SignalingServer.eventually(seconds: 10) { ((try? registry.nodes()) ?? []).count == 3 }, "all three registered")
        let urls = nodes.map { "http://127.0.0.1:\($0.port)" }
        // Two viewers on each node.
        let peers = try await AiortcPeers(
            port: nodes[0].port, room: "launch", script: "cluster_broadcast.py",
            arguments: urls.flatMap { ["--view-url", $0, "--view-url", $0] } + ["--video-frames", "30", "--seconds", "40", "--hold", "2"])
        // While they watch: the node pipes each node holds, at most.
        var mostOut = [0, 0, 0], mostIn = [0, 0, 0], mostSessions = [0, 0, 0]
        let (result, line) = try await peers.result(limit: 90) {
            for (i, node) in nodes.enumerated() {
                guard let relay = node.relay else { continue }
                let s = await relay.snapshot()
                mostOut[i] = max(mostOut[i], s.nodePipesOut)
                mostIn[i] = max(mostIn[i], s.nodePipesIn)
                mostSessions[i] = max(mostSessions[i], await relay.sessionCount())
            }
        }
        #expect(result["whip_status"] as? Int == 201, "\(line)")
        let home = try #require(urls.firstIndex { (result["whip_url"] as? String ?? "").hasPrefix($0 + "/") }, "\(line)")
        let viewers = result["viewers"] as? [[String: Any]] ?? []
        #expect(viewers.count == 6)
        for viewer in viewers {
            let node = viewer["node"] as? String ?? ""
            #expect(viewer["whep_status"] as? Int == 201, "\(viewer)")
            #expect((viewer["served_by"] as? String ?? "").hasPrefix(node + "/"), "served by the node it asked, not redirected: \(viewer)")
            #expect(viewer["video"] as? Int ?? 0 >= 30, "decoded video from its node: \(viewer)")
            #expect(viewer["audio"] as? Int ?? 0 > 0, "and audio: \(viewer)")
            #expect(viewer["whep_delete"] as? Int == 200, "ended on the node that served it: \(viewer)")
        }
        for i in nodes.indices {
            if i == home {
                #expect(mostOut[i] == 2, "the publisher's node pipes to each other node once: \(mostOut[i])")
                #expect(mostSessions[i] == 3, "the publisher and its own two viewers; the other nodes' four are not sessions here: \(mostSessions[i])")
            } else {
                #expect(mostIn[i] == 1 && mostOut[i] == 0, "one pipe in on node \(i): \(mostIn[i]) in, \(mostOut[i]) out")
                #expect(mostSessions[i] == 2, "its two viewers: \(mostSessions[i])")
            }
        }
        // Only a node's token asks for a pipe, for its own room, naming an IP address.
        let homeNode = nodes[home]
        func ask(_ token: String, _ body: String) async throws -> Int {
            let connection = TestClient(host: "127.0.0.1", port: homeNode.port, configuration: .init(timeout: .seconds(20)))
            connection.connect()
            defer { Task { try? await connection.shutdown() } }
            let response = try await connection.execute(
                TestClient.Request(
                    "/cluster/pipes", method: .post, authority: "127.0.0.1:\(homeNode.port)",
                    headers: [.contentType: "application/json", .authorization: "Bearer \(token)"], body: ByteBuffer(string: body)))
            return response.head.status.code
        }
        let auth = await TokenAuthority(secret: testSecret)
        let pipeBody = #"{"room":"launch","token":"12345","host":"127.0.0.1","port":9}"#
        #expect(try await ask(try await token("launch", .viewer), pipeBody) == 401, "a viewer's token")
        #expect(try await ask(try await auth.nodeToken(room: "other"), pipeBody) == 403, "a node token for another room")
        #expect(
            try await ask(try await auth.nodeToken(room: "launch"), #"{"room":"launch","token":"1","host":"node-b.internal","port":9}"#) == 400,
            "a host name, not an address")
        // And a node's token is good for nothing else: watching, for one.
        #expect(try await ClusterPlacementTests.offer(nodes[home], "/whep/launch", token: try await auth.nodeToken(room: "launch")).0 == .unauthorized)
        // Everyone gone: the pipes go (the mirrors' grace, then the detach).
        #expect(
            await SignalingServer.eventually(seconds: 15) {
                var open = 0
                for n in nodes { open += (await n.relay?.snapshot()).map { $0.nodePipesOut + $0.nodePipesIn } ?? 0 }
                return open == 0
            }, "no pipe outlives its viewers")
    }

    /// The publisher leaves and publishes again on its node: the other nodes' viewers, untouched,
    /// play again — their node asks the room's node for the new publication by itself, as a
    /// node's own viewers follow its next publisher.
    @Test func viewersOnOtherNodesFollowTheNextPublisher() async throws {
        let url = try await PostgresTestCluster.shared().freshDatabase()
        let nodes = [try await ClusterPlacementTests.node(url), try await ClusterPlacementTests.node(url)]
        defer { Task { for n in nodes { _ = await n.stop() } } }
        let registry = try ClusterPlacementTests.registry(url)
        #expect(await SignalingServer.eventually(seconds: 10) { ((try? registry.nodes()) ?? []).count == 2 }, "both registered")
        let urls = nodes.map { "http://127.0.0.1:\($0.port)" }
        let peers = try await AiortcPeers(
            port: nodes[0].port, room: "relaunch", script: "cluster_broadcast.py",
            arguments: urls.flatMap { ["--view-url", $0] } + ["--video-frames", "30", "--seconds", "30", "--republish"])
        let (result, line) = try await peers.result(limit: 90)
        #expect(result["whip_status"] as? Int == 201 && result["whip_delete_first"] as? Int == 200, "\(line)")
        #expect(result["whip_status_again"] as? Int == 201, "\(line)")
        for viewer in result["viewers"] as? [[String: Any]] ?? [] {
            #expect(viewer["whep_status"] as? Int == 201, "\(viewer)")
            #expect(viewer["video_after_republish"] as? Int ?? 0 >= 30, "plays the next publisher: \(viewer)")
            if let resumed = viewer["resumed_s"] as? Double { #expect(resumed < 5, "within a few seconds: \(viewer)") }
        }
        print("viewers following the next publisher across nodes: \(line)")
    }
}
