import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension URLSession {
    /// `data(for:)` that a cancelled task cannot deadlock. swift-corelibs-foundation's async
    /// `data(for:)` cancels its `URLSessionTask` from the Swift task's cancellation handler, which
    /// runs holding the task's status lock; `URLSessionTask.cancel()` then waits for the session's
    /// queue — the queue that, when the transfer has just finished, is resuming this very task and
    /// needs that lock: both wait forever (a test's webhook sender, cancelled mid-delivery, hung the
    /// whole test process in CI; a server stopping mid-delivery would hang the same way). Here the
    /// handler only schedules the cancel on another queue.
    func dataCancellingSafely(for request: URLRequest) async throws -> (Data, URLResponse) {
        let box = TaskBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Data, URLResponse), any Error>) in
                let task = dataTask(with: request) { data, response, error in
                    if let response, error == nil {
                        continuation.resume(returning: (data ?? Data(), response))
                    } else {
                        continuation.resume(throwing: error ?? URLError(.badServerResponse))
                    }
                }
                box.task.withLock { $0 = task }
                task.resume()
            }
        } onCancel: {
            DispatchQueue.global().async { box.task.withLock { $0 }?.cancel() }
        }
    }

    private final class TaskBox: Sendable {
        let task = Mutex<URLSessionDataTask?>(nil)
    }
}
