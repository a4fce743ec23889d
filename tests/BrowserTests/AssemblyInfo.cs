using System.Runtime.Versioning;

// The silo is started and signalled through Linux processes; Chromium is Debian's /usr/bin/chromium.
[assembly: SupportedOSPlatform("linux")]
