; License Desk's Windows installer (NSIS 3, built on Linux by .ci/dist.sh with
; Debian's makensis). Everything that names the product comes from
; FyneApp.toml through the defines .ci/dist.sh passes:
;   APPNAME VERSION VERSION4 APPID EXE AGENTEXE ICON OUTFILE
;
; It installs licensedesk.exe (the window) and licensedesk-agent.exe (the
; same program without the window, for the agent and the tray) in Program
; Files, a Start menu entry with the icon, the licensing agent as a Windows
; service (`licensedesk-agent.exe service install`, data in
; %ProgramData%\LicenseDesk), the tray at sign-in for
; every user (HKLM Run: a back-office PC has several), and an uninstaller.
; The uninstaller keeps the license data unless asked: the checkbox on its
; page, or /PURGE on its command line (silent: /S /PURGE).

Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin
ManifestDPIAware true

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!define REGKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APPID}"
!define RUNKEY "Software\Microsoft\Windows\CurrentVersion\Run"
; $APPDATA is %ProgramData% under SetShellVarContext all.
!define DATADIR "$APPDATA\LicenseDesk"

Name "${APPNAME}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APPNAME}"
InstallDirRegKey HKLM "${REGKEY}" "InstallLocation"
BrandingText "${APPNAME} ${VERSION}"

VIProductVersion "${VERSION4}"
VIFileVersion "${VERSION4}"
VIAddVersionKey "ProductName" "${APPNAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APPNAME} setup"
VIAddVersionKey "LegalCopyright" "${APPNAME}"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\licensedesk.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Open ${APPNAME}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

; The uninstaller's own page: keep or remove the license data.
Var PurgeBox
Var Purge
UninstPage custom un.DataPage un.DataPageLeave
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APPNAME} needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "Install"
  SetOutPath "$INSTDIR"
  ; An agent service from an earlier version holds its exe open: stop it,
  ; and remove it so that it is installed again below with this version's
  ; command line (errors ignored on a first install).
  IfFileExists "$INSTDIR\licensedesk-agent.exe" 0 +3
    ExecWait '"$INSTDIR\licensedesk-agent.exe" service stop'
    ExecWait '"$INSTDIR\licensedesk-agent.exe" service uninstall'
  IfFileExists "$INSTDIR\licensedesk.exe" 0 +2
    ExecWait '"$INSTDIR\licensedesk.exe" service stop'
  File "/oname=licensedesk.exe" "${EXE}"
  File "/oname=licensedesk-agent.exe" "${AGENTEXE}"
  File "/oname=licensedesk.ico" "${ICON}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateDirectory "$SMPROGRAMS\${APPNAME}"
  CreateShortcut "$SMPROGRAMS\${APPNAME}\${APPNAME}.lnk" "$INSTDIR\licensedesk.exe" "" "$INSTDIR\licensedesk.ico" 0
  CreateShortcut "$SMPROGRAMS\${APPNAME}\Uninstall ${APPNAME}.lnk" "$INSTDIR\uninstall.exe"

  ; The tray at sign-in, for every user.
  WriteRegStr HKLM "${RUNKEY}" "${APPNAME}" '"$INSTDIR\licensedesk-agent.exe" tray'

  ; The agent as a service, with its data in %ProgramData%. A failure is
  ; written to the log and does not stop the installation: the window
  ; starts an agent of its own when no service runs.
  CreateDirectory "${DATADIR}"
  ExecWait '"$INSTDIR\licensedesk-agent.exe" service install -data "${DATADIR}"' $0
  DetailPrint "service install: exit code $0"
  ${If} $0 == 0
    ExecWait '"$INSTDIR\licensedesk-agent.exe" service start' $0
    DetailPrint "service start: exit code $0"
  ${EndIf}

  ; Programs and Features.
  WriteRegStr HKLM "${REGKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr HKLM "${REGKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${REGKEY}" "Publisher" "${APPNAME}"
  WriteRegStr HKLM "${REGKEY}" "DisplayIcon" "$INSTDIR\licensedesk.ico"
  WriteRegStr HKLM "${REGKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${REGKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${REGKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${REGKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${REGKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${REGKEY}" "EstimatedSize" "$0"
SectionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
  StrCpy $Purge 0
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    StrCpy $Purge 1
  ${EndIf}
FunctionEnd

Function un.DataPage
  !insertmacro MUI_HEADER_TEXT "License data" "Keep this server's license?"
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateLabel} 0 0 100% 36u "The license, its tokens and the audit log stay in ${DATADIR} and in each user's %LOCALAPPDATA%\LicenseDesk, so installing ${APPNAME} again keeps this server licensed."
  Pop $0
  ${NSD_CreateCheckbox} 0 44u 100% 12u "Also remove the license data (the license must be moved or bought again)"
  Pop $PurgeBox
  ${If} $Purge == 1
    ${NSD_Check} $PurgeBox
  ${EndIf}
  nsDialogs::Show
FunctionEnd

Function un.DataPageLeave
  ${NSD_GetState} $PurgeBox $Purge
  ${If} $Purge == ${BST_CHECKED}
    StrCpy $Purge 1
  ${Else}
    StrCpy $Purge 0
  ${EndIf}
FunctionEnd

Section "Uninstall"
  ExecWait '"$INSTDIR\licensedesk-agent.exe" service stop'
  ExecWait '"$INSTDIR\licensedesk-agent.exe" service uninstall' $0
  DetailPrint "service uninstall: exit code $0"
  ; A window or tray still open holds the exe.
  ExecWait '"$INSTDIR\licensedesk-agent.exe" stop'

  DeleteRegValue HKLM "${RUNKEY}" "${APPNAME}"
  Delete "$SMPROGRAMS\${APPNAME}\${APPNAME}.lnk"
  Delete "$SMPROGRAMS\${APPNAME}\Uninstall ${APPNAME}.lnk"
  RMDir "$SMPROGRAMS\${APPNAME}"
  Delete "$INSTDIR\licensedesk.exe"
  Delete "$INSTDIR\licensedesk-agent.exe"
  Delete "$INSTDIR\licensedesk.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${REGKEY}"

  ${If} $Purge == 1
    DetailPrint "Removing the license data in ${DATADIR}"
    RMDir /r "${DATADIR}"
    ; The user who uninstalls: their own data too.
    SetShellVarContext current
    RMDir /r "$LOCALAPPDATA\LicenseDesk"
    SetShellVarContext all
  ${Else}
    DetailPrint "The license data stays in ${DATADIR}"
  ${EndIf}
SectionEnd
