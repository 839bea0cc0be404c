namespace Artemis.Agents.Voice;

public static class VoiceExtensions
{
    /// <summary>
    /// The voice bridge: options, tickets, the tools, the open sessions (closed and settled on shutdown). Needs
    /// <c>AddFiles</c> (the tools are the <c>files</c> plugin's) and <c>AddCards</c> (create_card).
    /// </summary>
    public static IHostApplicationBuilder AddVoice(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<VoiceOptions>().BindConfiguration(VoiceOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<VoiceOptions>>().Value);
        builder.Services.AddSingleton<VoiceTickets>();
        builder.Services.AddSingleton<IVoiceTools, WorkspaceVoiceTools>();
        builder.Services.AddSingleton<VoiceSessions>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<VoiceSessions>());
        return builder;
    }
}
