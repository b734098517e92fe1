import HTTPTypes
import Hummingbird

/// CORS for WHIP and WHEP only ([RFC 9725 §4.2](https://www.rfc-editor.org/rfc/rfc9725#section-4.2)):
/// a player on a shop's page (another origin) may POST its offer with a bearer token, read the
/// `Location` of the session it created — `Access-Control-Expose-Headers` on the response itself,
/// as the Fetch standard requires, not only on the preflight — and `DELETE` it. Nothing else the
/// server answers (`/demo-token`, `/metrics`, the pages) is readable from another origin.
struct MediaCORSMiddleware<Context: RequestContext>: RouterMiddleware {
    static func applies(to path: String) -> Bool {
        path.hasPrefix("/whip/") || path.hasPrefix("/whep/") || path.hasPrefix("/ice-servers/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.origin] != nil, Self.applies(to: request.uri.path) else { return try await next(request, context) }
        if request.method == .options {
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: "*", .accessControlAllowMethods: "GET, POST, DELETE, PATCH, OPTIONS",
                    .accessControlAllowHeaders: "content-type, authorization", .accessControlExposeHeaders: "Location, Link",
                    .accessControlMaxAge: "3600",
                ])
        }
        do {
            var response = try await next(request, context)
            response.headers[.accessControlAllowOrigin] = "*"
            response.headers[.accessControlExposeHeaders] = "Location, Link"
            return response
        } catch var error as HTTPError {
            // A refusal (401, 4xx with its reason) is readable by the page too.
            error.headers[.accessControlAllowOrigin] = "*"
            throw error
        }
    }
}
