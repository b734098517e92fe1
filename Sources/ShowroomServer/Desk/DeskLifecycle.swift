import ServiceLifecycle

/// Runs the ``DeskService`` with the server, and stops it with the server.
struct DeskLifecycle: Service {
    let desk: DeskService

    func run() async throws {
        await cancelWhenGracefulShutdown { await desk.run() }
    }
}
