import ServiceLifecycle

/// Runs the ``AssistService`` (room reading, desk transitions, webhook deliveries) with the
/// server, and stops it with the server.
struct AssistLifecycle: Service {
    let assist: AssistService

    func run() async throws {
        await cancelWhenGracefulShutdown { await assist.run() }
    }
}
