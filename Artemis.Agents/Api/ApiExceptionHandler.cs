using Artemis.Agents.Cards;
using Microsoft.AspNetCore.Diagnostics;

namespace Artemis.Agents.Api;

/// <summary>
/// Maps the exceptions the API expects to problem details with the right status; anything else is a 500 with no
/// internals in the body (the details go to the log and the trace).
/// </summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problemDetails, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "Bad request"),
            CardNotFoundException => (StatusCodes.Status404NotFound, "Card not found"),
            CardStageConflictException => (StatusCodes.Status409Conflict, "Not possible in the card's stage"),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested => (499, "Client closed request"),
            _ => (StatusCodes.Status500InternalServerError, "Unexpected error"),
        };

        if (status >= 500)
        {
            ApiLog.UnhandledException(logger, httpContext.Request.Method, httpContext.Request.Path, exception);
        }

        httpContext.Response.StatusCode = status;
        var problem = new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = status,
                Title = title,
                Detail = status >= 500 ? "The request failed; the service log has the details." : exception.Message,
            },
        };

        // As JSON even for a client that accepts only text/event-stream (the card event stream's 404).
        if (!await problemDetails.TryWriteAsync(problem))
        {
            await TypedResults.Problem(problem.ProblemDetails).ExecuteAsync(httpContext);
        }

        return true;
    }
}
