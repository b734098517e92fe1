import Logging
import NIOCore
import PostgresNIO

/// What a listener on a PostgreSQL notification channel hears.
public enum PostgresNotice: Sendable, Equatable {
    /// One notification's payload.
    case payload(String)
    /// Listening (again): notifications sent while it was not — the connection was lost, or the
    /// reader fell behind the buffer — are gone; whoever follows must read the state itself.
    case resumed
}

extension PostgresDatabase {
    /// The most notices held for a reader that has not taken them; past it the oldest are dropped
    /// and a ``PostgresNotice/resumed`` is queued behind, so the reader knows to read the state.
    public static let noticeBuffer = 10_000
    /// Payloads longer than this are not passed on (ours are a few dozen bytes; PostgreSQL allows
    /// 8,000): the buffer then holds at most `noticeBuffer` × this.
    public static let maximumNoticePayload = 256

    /// Every notification on `channel` (`LISTEN`, https://www.postgresql.org/docs/15/sql-listen.html),
    /// on a connection of its own outside the pool. It starts with ``PostgresNotice/resumed`` once
    /// listening, and after losing the connection it tries again — 0.5 s, doubling to 5 s — and
    /// tells ``PostgresNotice/resumed`` each time it listens again. Ends when the stream is dropped
    /// or its reader's task is cancelled.
    public func notices(channel: String) -> AsyncStream<PostgresNotice> {
        let (stream, sink) = AsyncStream.makeStream(of: PostgresNotice.self, bufferingPolicy: .bufferingNewest(Self.noticeBuffer))
        let configuration = self.configuration
        let loop = group.next()
        let logger = self.logger
        let task = Task {
            var wait = Duration.milliseconds(500)
            var id = 1_000_000
            while !Task.isCancelled {
                id += 1
                do {
                    let connection = try await PostgresConnection.connect(on: loop, configuration: configuration, id: id, logger: logger)
                    do {
                        // Cancelled (the stream dropped): closing the connection ends the wait for
                        // the next notification.
                        try await withTaskCancellationHandler {
                            try await connection.listen(on: channel) { notifications in
                                Self.tell(.resumed, sink)
                                wait = .milliseconds(500)
                                for try await n in notifications where n.payload.utf8.count <= Self.maximumNoticePayload {
                                    Self.tell(.payload(n.payload), sink)
                                }
                            }
                        } onCancel: {
                            let _: EventLoopFuture<Void> = connection.close()
                        }
                    } catch {
                        logger.warning("database notifications lost", metadata: ["channel": .string(channel), "error": .string("\(error)")])
                    }
                    try? await connection.close()
                } catch {
                    logger.warning("database notifications: cannot connect", metadata: ["channel": .string(channel), "error": .string("\(error)")])
                }
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(5))
            }
            sink.finish()
        }
        sink.onTermination = { _ in task.cancel() }
        return stream
    }

    private static func tell(_ notice: PostgresNotice, _ sink: AsyncStream<PostgresNotice>.Continuation) {
        if case .dropped = sink.yield(notice) { sink.yield(.resumed) }
    }
}
