import Foundation

extension FAQ {
    /// The demo shop's FAQ (`SampleFAQ.json`, a resource of this module): a furniture and fashion
    /// shop with departments "sales" and "support", 14 questions in English and German each.
    public static func sample() throws(DeskError) -> FAQ {
        guard let url = Bundle.module.url(forResource: "SampleFAQ", withExtension: "json"),
            let data = try? Data(contentsOf: url)
        else { throw DeskError(.notFound, "SampleFAQ.json is missing from the Desk module's resources") }
        return try FAQ(json: data, departments: sampleDepartments)
    }

    /// The departments of the sample shop.
    public static let sampleDepartments: Set<String> = ["sales", "support"]
}
