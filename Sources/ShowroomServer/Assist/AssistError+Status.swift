import Assist
import HTTPTypes

/// The one table from agent assist's refusals to HTTP statuses; the reason goes with each, after
/// the code (`not_found: no product SOFA-9`).
extension AssistError {
    var httpStatus: HTTPResponse.Status {
        switch code {
        case .invalidArgument: .badRequest
        case .invalidImport: .unprocessableContent
        case .tooLarge: .contentTooLarge
        case .notFound: .notFound
        case .conflict: .conflict
        case .rateLimited: .tooManyRequests
        case .storage, .unavailable: .serviceUnavailable
        }
    }
}
