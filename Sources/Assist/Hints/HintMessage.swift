import Foundation

/// One message of the conversation as the hint engine reads it.
public struct HintMessage: Codable, Sendable, Hashable {
    public enum Role: String, Codable, Sendable, Hashable {
        case shopper, agent
        /// The bot's and the system's messages: neither the shopper's words nor an agent's answer.
        case bot
    }

    public var role: Role
    public var text: String
    public var at: Date

    public init(role: Role, text: String, at: Date) {
        self.role = role
        self.text = text
        self.at = at
    }
}
