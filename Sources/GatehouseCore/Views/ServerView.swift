/// A server as the route modules show it (CONTRACT §5, §6): `{id, name, status, node:
/// {displayName}, createdAt}`, with `ownerId` on the admin routes, and without `createdAt` where
/// servers are embedded in a user (`brief`).
public enum ServerView {
    public static func json(_ server: Server, owner: Bool = false, brief: Bool = false) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(server.id)),
            ("name", .string(server.name)),
            ("status", .string(server.status)),
            ("node", .object([("displayName", .string(server.nodeDisplayName))])),
        ]
        if owner { members.append(("ownerId", .string(server.ownerId))) }
        if !brief { members.append(("createdAt", .date(server.createdAt))) }
        return .object(members)
    }
}
