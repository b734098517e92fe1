import HTTPTypes
import Relay
import Signaling

/// The one table from the relay's refusals to what the two front doors answer: an HTTP status for
/// WHIP/WHEP, a `/ws` error code for signaling. The reason (``RelayError/detail``) goes with both.
extension RelayError {
    var httpStatus: HTTPResponse.Status {
        switch code {
        case .badOffer: .badRequest
        case .roomBusy: .conflict
        case .nothingPublished, .notFound: .notFound
        case .atCapacity: .serviceUnavailable
        case .overQuota: .tooManyRequests
        case .internalError: .internalServerError
        }
    }

    var signalingCode: SignalingError.Code {
        switch code {
        case .badOffer: .badMessage
        case .roomBusy: .conflict
        case .nothingPublished, .notFound: .notFound
        case .atCapacity, .overQuota, .internalError: .media
        }
    }

    var signalingError: SignalingError { SignalingError(signalingCode, detail) }
}
