import ShowroomCore

/// Why a wait estimate, an Erlang C figure or a forecast could not be computed; compared by code.
///
/// Every input of ``ErlangC``, ``ArrivalForecast`` and ``StaffingPlan`` may come from a shop's
/// settings or its stored history, so each is checked against a written bound
/// (``ForecastLimits``) before any loop runs on it.
public struct ForecastError: CodedError {
    public static let domain = "forecast"
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A value is not a finite number, is negative, or is outside its meaningful range
        /// (a service level of 1.3, a concurrency of 0).
        case invalidArgument
        /// A value is past the bound in ``ForecastLimits`` (traffic, days, weeks).
        case overLimit
        /// No staffing within ``ForecastLimits/maximumServers`` meets the target (a service
        /// level so close to 1, or a target so short, that no finite team meets it).
        case unreachableTarget
    }

    public let code: Code
    /// Human-readable detail, for logs only: not part of equality.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    static func invalid(_ detail: String) -> ForecastError { ForecastError(.invalidArgument, detail) }
    static func overLimit(_ detail: String) -> ForecastError { ForecastError(.overLimit, detail) }
}
