/// A search of the users, for admin lists: a text match on the email or the name, roles to keep,
/// an order and a page.
public struct UserQuery: Sendable, Equatable {
    public enum Field: String, Sendable {
        case email
        /// The display name, else first and last name.
        case name
    }

    public enum Match: String, Sendable {
        case contains
        case startsWith = "starts_with"
        case endsWith = "ends_with"
    }

    public enum SortKey: String, Sendable {
        case createdAt, updatedAt, email, name
    }

    public struct Search: Sendable, Equatable {
        public var field: Field
        public var match: Match
        public var value: String
        public init(field: Field, match: Match, value: String) {
            self.field = field
            self.match = match
            self.value = value
        }
    }

    public var search: Search?
    /// Only users with one of these roles (nil: all).
    public var roles: [Role]?
    public var sortBy: SortKey = .createdAt
    public var descending = true
    public var limit: Int
    public var offset: Int

    public init(limit: Int, offset: Int = 0) {
        self.limit = limit
        self.offset = offset
    }
}
