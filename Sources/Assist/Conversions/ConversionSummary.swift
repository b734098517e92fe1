/// The conversion report: the totals and the same figures per consultation, agent and department
/// (``ConversionStats`` for the definitions), plus what could not be attributed.
public struct ConversionSummary: Codable, Sendable, Hashable {
    public var total = ConversionStats()
    public var byConsultation: [String: ConversionStats] = [:]
    public var byAgent: [String: ConversionStats] = [:]
    /// Consultations without a department are not in this map (they are in the total).
    public var byDepartment: [String: ConversionStats] = [:]
    /// Reports without a token: counted here only.
    public var unattributedClicks = 0
    public var unattributedAddToCarts = 0
    public var unattributedOrders = 0
    public var unattributedRevenueMinor: [String: Int64] = [:]

    public init() {}
}
