import Desk
import HTTPTypes

/// The one table from the desk's refusals to HTTP statuses; the reason (``DeskError/detail``)
/// goes with each, after the code (`not_found: no consultation c-…`).
extension DeskError {
    var httpStatus: HTTPResponse.Status {
        switch code {
        case .invalidArgument: .badRequest
        case .invalidFAQ, .unknownDepartment: .unprocessableContent
        case .notFound: .notFound
        case .conflict: .conflict
        case .notAllowed: .forbidden
        case .storage, .unavailable: .serviceUnavailable
        }
    }
}
